package s3_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"

	"lifeboat/storage"
	"lifeboat/storage/s3"
	"lifeboat/tests/s3server"
)

// deleteCounter counts the DELETE requests it passes on to next.
type deleteCounter struct {
	next    http.RoundTripper
	deletes atomic.Int64
}

func (c *deleteCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodDelete {
		c.deletes.Add(1)
	}
	return c.next.RoundTrip(req)
}

// An append-only store sends no DELETE: its probe is one fixed object,
// created by the first open and found by every later one (which proves
// the condition holds), and Delete is refused without a request. A server
// that ignores the condition is still found out.
func TestAppendOnlyStoreSendsNoDeletes(t *testing.T) {
	srv := s3server.Start(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		tr   http.RoundTripper
		want bool
	}{
		{"honoured", http.DefaultTransport, true},
		{"ignored", &headerFilter{dropCondition: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := &deleteCounter{next: tc.tr}
			cfg := config(srv, "append-only-"+tc.name)
			cfg.AppendOnly = true
			cfg.Transport = ct
			for i := range 3 {
				s := open(t, cfg)
				c := s.Capabilities()
				if c.ConditionalCreate != tc.want || c.ConditionalCreateUnverified || !c.AppendOnly {
					t.Fatalf("open %d: capabilities %+v, want ConditionalCreate %v and AppendOnly", i, c, tc.want)
				}
				if err := storage.PutBytes(ctx, s, "obj", []byte("x"), storage.PutOptions{}); err != nil {
					t.Fatal(err)
				}
				if err := s.Delete(ctx, "obj"); !errors.Is(err, storage.ErrAppendOnly) {
					t.Fatalf("delete: %v, want ErrAppendOnly", err)
				}
			}
			if n := ct.deletes.Load(); n != 0 {
				t.Fatalf("%d DELETE requests, want 0", n)
			}
			s := open(t, config(srv, "append-only-"+tc.name))
			var names []string
			if err := s.List(ctx, "", func(i storage.Info) error { names = append(names, i.Name); return nil }); err != nil {
				t.Fatal(err)
			}
			slices.Sort(names)
			if want := []string{"obj", s3.AppendOnlyProbe}; !slices.Equal(names, want) {
				t.Fatalf("objects %v, want %v", names, want)
			}
		})
	}
}
