package repo_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
)

// TestDamagedKeyObject: a key object damaged in the preferred region is
// read from the next one (the set's storage-level failover does not look
// at content), and a key object damaged in every region does not lock out
// the holders of the other keys; its own holder is told that a key object
// is damaged.
func TestDamagedKeyObject(t *testing.T) {
	ctx := context.Background()
	set, faults := threeRegions(t)
	r, id := enginetest.NewRepo(t, set)
	other, otherRcpt := enginetest.Identity(t)
	otherKey, err := r.AddKey(ctx, otherRcpt, "other", "h", "u")
	if err != nil {
		t.Fatal(err)
	}
	isKey := func(name string) bool { return strings.HasPrefix(name, format.KeysPrefix) }
	isOther := func(name string) bool { return name == format.KeyName(otherKey) }

	// Every key object bad in region a: b serves them.
	faults[0].Corrupt(isKey)
	if _, err := repo.Open(ctx, set, id, repo.Options{}); err != nil {
		t.Fatalf("key damaged in one region: %v", err)
	}
	if _, err := repo.Open(ctx, set, other, repo.Options{}); err != nil {
		t.Fatalf("other key damaged in one region: %v", err)
	}

	// The other key bad in every region: the first identity still opens.
	for _, f := range faults {
		f.Reset()
		f.Corrupt(isOther)
	}
	if _, err := repo.Open(ctx, set, id, repo.Options{}); err != nil {
		t.Fatalf("another key damaged everywhere locked this identity out: %v", err)
	}
	_, err = repo.Open(ctx, set, other, repo.Options{})
	var ie *repo.IntegrityError
	if !errors.Is(err, repo.ErrWrongKey) || !errors.As(err, &ie) || ie.Object != format.KeyName(otherKey) {
		t.Fatalf("the damaged key's holder: %v, want ErrWrongKey naming the damaged key object", err)
	}
}
