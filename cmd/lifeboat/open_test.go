package main

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"lifeboat/cmd/lifeboat/internal/config"
	"lifeboat/storage/regions"
)

// silentServer accepts connections on 127.0.0.1 and never answers, like a
// SIGSTOPped S3 server. It returns the address.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestReadOnlyOpenCutsStragglers: a command that only reads starts once a
// region has opened, and a region that hangs is down for it after the
// straggler grace (errStraggler), not after its whole open_timeout; a
// command that writes waits for it up to open_timeout (the region is down
// for its own timeout, not cut short).
func TestReadOnlyOpenCutsStragglers(t *testing.T) {
	hung := silentServer(t)
	cfg := &config.Config{Regions: []config.Region{
		{Name: "disk", Type: config.TypeLocal, Path: filepath.Join(t.TempDir(), "r")},
		{Name: "hung", Type: config.TypeS3, S3: &config.S3{Endpoint: hung, Bucket: "bucket", Insecure: true, PathStyle: ptrTrue(),
			AccessKeyEnv: "K", SecretKeyEnv: "S", OpenTimeout: config.Duration(3 * time.Second)}},
	}}
	// The local region must exist to be opened without create.
	if _, err := buildStorage(context.Background(), &config.Config{Regions: cfg.Regions[:1]}, true, envOf(nil), io.Discard); err != nil {
		t.Fatal(err)
	}
	getenv := envOf(map[string]string{"K": "k", "S": "s"})
	for _, tc := range []struct {
		name      string
		mode      openMode
		straggler bool
	}{
		{"read-only", openMode{readOnly: true}, true},
		{"writing", openMode{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := buildStorageFor(context.Background(), cfg, tc.mode, getenv, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			set := st.(*regions.Set)
			down := set.Down()
			if len(down) != 1 || down[0].Region != "hung" {
				t.Fatalf("down regions %+v, want hung", down)
			}
			if got := errors.Is(down[0].Err, errStraggler); got != tc.straggler {
				t.Fatalf("hung region's cause %v: straggler %v, want %v", down[0].Err, got, tc.straggler)
			}
		})
	}
}

func TestStragglerGrace(t *testing.T) {
	for _, tc := range []struct{ first, want time.Duration }{
		{0, stragglerFloor},
		{50 * time.Millisecond, stragglerFloor},
		{time.Second, 4 * time.Second},
	} {
		if got := stragglerGrace(tc.first); got != tc.want {
			t.Errorf("stragglerGrace(%v) = %v, want %v", tc.first, got, tc.want)
		}
	}
}

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func ptrTrue() *bool { b := true; return &b }
