package repo

import (
	"bytes"
	"context"
	"testing"

	"lifeboat/storage"
	"lifeboat/storage/mem"
)

// Reads that go back fetch segments of their own; the reader keeps no more
// than maxSegBytes of them, however many, and still reads right.
func TestObjectReaderAtBoundsSegments(t *testing.T) {
	ctx := context.Background()
	st := mem.New()
	data := make([]byte, 8*readWindow)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := storage.PutBytes(ctx, st, "obj", data, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	o := newObjectReaderAt(ctx, st, "obj", int64(len(data)), nil)
	defer o.release()
	buf := make([]byte, 256<<10)
	for off := int64(len(data)) - int64(len(buf)); off >= 0; off -= int64(len(buf)) {
		if _, err := o.ReadAt(buf, off); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf, data[off:off+int64(len(buf))]) {
			t.Fatalf("wrong bytes at %d", off)
		}
		kept := 0
		for _, s := range o.segs {
			kept += len(s.data)
		}
		if kept > maxSegBytes {
			t.Fatalf("after reading at %d the reader keeps %d bytes of segments, want at most %d", off, kept, maxSegBytes)
		}
	}
}
