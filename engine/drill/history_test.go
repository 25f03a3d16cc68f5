package drill_test

import (
	"context"
	"strings"
	"testing"

	"lifeboat/engine/drill"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
)

// A drill warns, naming it, of a key removed from every region by hand
// (no tombstone), and not of a clean repository.
func TestDrillWarnsOfVanishedKey(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	if rep := e.drill(t, backupTime, nil, drill.Options{NoRecord: true}); len(rep.Warnings) > 0 {
		t.Fatalf("warnings of a clean repository: %v", rep.Warnings)
	}
	_, rc := enginetest.Identity(t)
	key, err := e.evidence().AddKey(ctx, rc, "second", "h", "u")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range e.faults {
		if err := f.Delete(ctx, format.KeyName(key)); err != nil {
			t.Fatal(err)
		}
	}
	rep := e.drill(t, backupTime, nil, drill.Options{NoRecord: true})
	if !rep.Passed || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], format.KeyName(key)) || !strings.Contains(rep.Warnings[0], "vanished") {
		t.Fatalf("passed %v, warnings %v: want one naming %s", rep.Passed, rep.Warnings, format.KeyName(key))
	}
}
