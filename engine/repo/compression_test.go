package repo

import (
	"context"
	"testing"

	"lifeboat/engine/compress"
	"lifeboat/storage/mem"
)

// A repository created without a compression level records "auto": zstd
// "default" for small blobs, "fastest" for chunks of large files. Reopened,
// it writes with that level.
func TestInitDefaultCompressionIsAuto(t *testing.T) {
	ctx := context.Background()
	st := mem.New()
	id, rc := testIdentity(t)
	r, err := Init(ctx, st, InitOptions{Recipient: rc, Options: Options{StateDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Compression(); got != compress.LevelAuto {
		t.Errorf("new repository compresses with %v, want auto", got)
	}
	if got := r.cfg.Compression.Level; got != "auto" {
		t.Errorf("config records level %q, want auto", got)
	}
	r2, err := Open(ctx, st, id, Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if got := r2.Compression(); got != compress.LevelAuto {
		t.Errorf("reopened repository compresses with %v, want auto", got)
	}
}
