package syncer_test

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"lifeboat/engine/format"
	"lifeboat/engine/syncer"
	"lifeboat/storage"
)

// Sync copies the commit records a backup wrote while region c was down;
// a record that does not authenticate (written without the key) is copied
// by no keyed sync, and a region's own copy of a record is never replaced.
func TestSyncCopiesCommitRecords(t *testing.T) {
	ctx := context.Background()
	f := newSet(t, 2)
	f.initRepo(t)
	up := f.down("c")
	if _, err := f.backup(t); err != nil {
		t.Fatal(err)
	}
	up()
	want := names(t, f.mems["a"], format.ChainPrefix)
	if len(want) == 0 || slices.Equal(names(t, f.mems["c"], format.ChainPrefix), want) {
		t.Fatalf("test bug: records a %v, c %v", want, names(t, f.mems["c"], format.ChainPrefix))
	}
	forged := format.ChainName("0123456789abcdef", 1)
	body := []byte(`{"version":1,"writer":"0123456789abcdef","seq":1,"time":"2026-01-01T00:00:00Z","op":"start"}`)
	if err := storage.PutBytes(ctx, f.mems["a"], forged, format.ChainObject(body, make([]byte, 32)), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	own := want[0]
	ownCopy := []byte("c's own copy")
	if err := storage.PutBytes(ctx, f.mems["c"], own, ownCopy, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := syncer.Sync(ctx, f.set, keyed(f.r)); err != nil {
		t.Fatal(err)
	}
	got := names(t, f.mems["c"], format.ChainPrefix)
	if !slices.Equal(got, want) {
		t.Fatalf("c holds records %v, want %v (and not the forged one)", got, want)
	}
	if data, err := storage.ReadAll(ctx, f.mems["c"], own); err != nil || !bytes.Equal(data, ownCopy) {
		t.Fatalf("c's own copy of %s was replaced: %q, %v", own, data, err)
	}
	// A keyless sync copies the well-formed forged record: it cannot tell.
	if _, err := syncer.Sync(ctx, f.set, opts()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.mems["c"].Stat(ctx, forged); err != nil {
		t.Fatalf("keyless sync did not copy a well-formed record: %v", err)
	}
}
