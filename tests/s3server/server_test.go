package s3server_test

import (
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"lifeboat/tests/s3server"
)

// status GETs url and returns the HTTP status, or the error.
func status(t *testing.T, url string) (int, error) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func TestStartKillRestart(t *testing.T) {
	srv := s3server.Start(t, s3server.WithBucket("b1"), s3server.WithCredentials("ak", "sk"))
	if srv.Bucket != "b1" || srv.AccessKey != "ak" || srv.SecretKey != "sk" || !strings.HasPrefix(srv.Endpoint, "127.0.0.1:") {
		t.Fatalf("server = %+v", srv)
	}
	if code, err := status(t, srv.URL()+"/health"); err != nil || code != http.StatusOK {
		t.Fatalf("health: %d, %v", code, err)
	}
	// The bucket is a directory of the posix backend (storage/s3's tests
	// use it through signed requests).
	if fi, err := os.Stat(filepath.Join(srv.DataDir, "b1")); err != nil || !fi.IsDir() {
		t.Fatalf("bucket directory: %v", err)
	}
	if err := os.WriteFile(srv.ObjectPath("kept"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}

	endpoint := srv.Endpoint
	srv.Kill()
	if _, err := status(t, srv.URL()+"/health"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("health after Kill: err = %v, want connection refused", err)
	}
	srv.Restart()
	if srv.Endpoint != endpoint {
		t.Fatalf("restart moved from %s to %s", endpoint, srv.Endpoint)
	}
	if code, err := status(t, srv.URL()+"/health"); err != nil || code != http.StatusOK {
		t.Fatalf("health after Restart: %d, %v", code, err)
	}
	if _, err := os.Stat(srv.ObjectPath("kept")); err != nil {
		t.Fatalf("data lost over restart: %v", err)
	}
	if tail := srv.LogTail(); !strings.Contains(tail, "s3server: starting on "+endpoint) {
		t.Fatalf("log tail lacks start lines:\n%s", tail)
	}
	// Restarting a running server works too.
	srv.Restart()
	if code, err := status(t, srv.URL()+"/health"); err != nil || code != http.StatusOK {
		t.Fatalf("health after second Restart: %d, %v", code, err)
	}
}

func TestNoBucketAndSeveral(t *testing.T) {
	a := s3server.Start(t, s3server.WithBucket(""))
	b := s3server.Start(t)
	if a.Endpoint == b.Endpoint || a.DataDir == b.DataDir {
		t.Fatalf("servers share %s / %s", a.Endpoint, a.DataDir)
	}
	entries, err := os.ReadDir(a.DataDir)
	if err != nil || len(entries) != 0 {
		t.Fatalf("WithBucket(\"\") data dir: %v, %v", entries, err)
	}
	if b.Bucket != s3server.DefaultBucket {
		t.Fatalf("default bucket = %q", b.Bucket)
	}
	a.CreateBucket("later")
	if fi, err := os.Stat(filepath.Join(a.DataDir, "later")); err != nil || !fi.IsDir() {
		t.Fatalf("CreateBucket: %v", err)
	}
}

func TestBinary(t *testing.T) {
	p := s3server.Binary(t)
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm()&0o111 == 0 {
		t.Fatalf("Binary() = %s: %v", p, err)
	}
}

func TestPauseResume(t *testing.T) {
	srv := s3server.Start(t)
	srv.Pause()
	if !srv.Paused() {
		t.Fatal("not paused after Pause")
	}
	// A paused server accepts the connection and never answers.
	client := &http.Client{Timeout: 300 * time.Millisecond}
	resp, err := client.Get(srv.URL() + "/health")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("paused server answered %d", resp.StatusCode)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("paused server: err = %v, want a timeout", err)
	}
	srv.Resume()
	if code, err := status(t, srv.URL()+"/health"); err != nil || code != http.StatusOK {
		t.Fatalf("health after Resume: %d, %v", code, err)
	}
	// A server left paused is resumed by Kill (and by the cleanup).
	srv.Pause()
	srv.Kill()
	if srv.Paused() {
		t.Fatal("still paused after Kill")
	}
	srv.Restart()
	srv.Pause() // the cleanup must still stop it
}
