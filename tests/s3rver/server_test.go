package s3rver

import (
	"context"
	"errors"
	"testing"

	"lifeboat/storage"
	"lifeboat/storage/s3"
)

// TestIgnoresConditionalCreate checks what the package is for: the server
// runs, serves its bucket, and lets a second conditional create of the
// same object through. It also checks that storage/s3's probe sees it.
func TestIgnoresConditionalCreate(t *testing.T) {
	srv := Start(t)
	ctx := context.Background()
	st, err := s3.New(ctx, s3.Config{Endpoint: srv.Endpoint, Bucket: srv.Bucket, Insecure: true,
		Lookup: s3.LookupPath, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
	if err != nil {
		t.Fatalf("s3.New: %v\n%s", err, srv.LogTail())
	}
	defer st.Close()
	if st.Capabilities().ConditionalCreate {
		t.Fatal("s3rver: probe reports conditional creates")
	}
	for i, data := range []string{"first", "second"} {
		err := storage.PutBytes(ctx, st, "obj", []byte(data), storage.PutOptions{IfNotExists: true})
		if err != nil {
			t.Fatalf("conditional create %d: %v (s3rver started honouring If-None-Match?)", i, err)
		}
	}
	got, err := storage.ReadAll(ctx, st, "obj")
	if err != nil || string(got) != "second" {
		t.Fatalf("read = %q, %v; want the overwritten %q", got, err, "second")
	}
	if _, err := st.Stat(ctx, "missing"); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("stat missing = %v, want ErrNotExist", err)
	}
}
