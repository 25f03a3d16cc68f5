package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"lifeboat/storage"
)

func TestClassifyResponse(t *testing.T) {
	for _, tc := range []struct {
		code        string
		status      int
		key         string
		conditional bool
		want        error // nil: no sentinel
		transient   bool
	}{
		{"NoSuchKey", 404, "k", false, storage.ErrNotExist, false},
		{"NoSuchBucket", 404, "", false, ErrNoBucket, false},
		{"PreconditionFailed", 412, "k", true, storage.ErrExist, false},
		{"PreconditionFailed", 412, "k", false, nil, false},
		{"InvalidRange", 416, "k", false, storage.ErrInvalidRange, false},
		{"AccessDenied", 403, "k", false, storage.ErrPermission, false},
		{"InvalidAccessKeyId", 403, "", false, storage.ErrPermission, false},
		{"SignatureDoesNotMatch", 403, "", false, storage.ErrPermission, false},
		{"XAdminUserNotFound", 404, "", false, storage.ErrPermission, false},
		{"XMinioStorageFull", 507, "k", false, storage.ErrNoSpace, false},
		{"SlowDown", 503, "k", false, nil, true},
		{"RequestTimeout", 400, "k", false, nil, true},
		{"InternalError", 500, "k", false, nil, true},
		{"ConditionalRequestConflict", 409, "k", true, nil, true},
		{"502 Bad Gateway", 502, "k", false, nil, true},
		{"429 Too Many Requests", 429, "k", false, nil, true},
		{"NotImplemented", 501, "k", false, nil, false},
		{"ObjectParentIsFile", 409, "k", false, nil, false},
		{"404 Not Found", 404, "k", false, storage.ErrNotExist, false},
		{"403 Forbidden", 403, "k", false, storage.ErrPermission, false},
		{"BadRequest", 400, "k", false, nil, false},
	} {
		t.Run(fmt.Sprintf("%s/%d/%v", tc.code, tc.status, tc.conditional), func(t *testing.T) {
			er := minio.ErrorResponse{Code: tc.code, StatusCode: tc.status, Key: tc.key, Message: "msg"}
			err := classifyResponse(er, fmt.Errorf("wrapped: %w", er), tc.conditional)
			for _, sentinel := range []error{storage.ErrNotExist, ErrNoBucket, storage.ErrExist, storage.ErrInvalidRange, storage.ErrPermission, storage.ErrNoSpace} {
				if got := errors.Is(err, sentinel); got != (sentinel == tc.want) {
					t.Errorf("errors.Is(%v, %v) = %v", err, sentinel, got)
				}
			}
			if storage.IsTransient(err) != tc.transient {
				t.Errorf("transient = %v, want %v", storage.IsTransient(err), tc.transient)
			}
			// Refused credentials and a missing bucket are configuration
			// errors, nothing else is.
			wantConfig := tc.want == ErrNoBucket || tc.want == storage.ErrPermission
			if got := errors.Is(err, storage.ErrConfig); got != wantConfig {
				t.Errorf("errors.Is(%v, ErrConfig) = %v, want %v", err, got, wantConfig)
			}
			var back minio.ErrorResponse
			if !errors.As(err, &back) || back.Code != tc.code {
				t.Errorf("server error not reachable from %v", err)
			}
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestIsTransientNet(t *testing.T) {
	urlErr := func(err error) error { return &url.Error{Op: "Get", URL: "http://x/", Err: err} }
	opErr := func(err error) error { return &net.OpError{Op: "dial", Net: "tcp", Err: err} }
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"refused", urlErr(opErr(os.NewSyscallError("connect", syscall.ECONNREFUSED))), true},
		{"reset", opErr(syscall.ECONNRESET), true},
		{"broken pipe", fmt.Errorf("write: %w", syscall.EPIPE), true},
		{"timeout", urlErr(timeoutErr{}), true},
		{"truncated body", io.ErrUnexpectedEOF, true},
		{"server closed", urlErr(io.EOF), true},
		{"deadline", os.ErrDeadlineExceeded, true},
		{"dns temporary", &net.DNSError{Err: "x", IsTemporary: true}, true},
		{"dns not found", urlErr(&net.DNSError{Err: "no such host", IsNotFound: true}), false},
		{"bad address", urlErr(&net.AddrError{Err: "bad", Addr: "x"}), false},
		{"plain error", errors.New("something else"), false},
		{"bare EOF", io.EOF, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := isTransientNet(tc.err); got != tc.want {
				t.Fatalf("isTransientNet(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestClassifyContext(t *testing.T) {
	s := &store{timeout: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, w := s.watch(context.Background())
	defer w.stop()
	// The caller's cancellation wins over whatever the request reported.
	err := s.classify(ctx, urlErrorOf(context.Canceled), w, false)
	if !errors.Is(err, context.Canceled) || storage.IsTransient(err) {
		t.Fatalf("cancelled: %v", err)
	}
	err = s.classify(ctx, minio.ErrorResponse{Code: "InternalError", StatusCode: 500}, w, false)
	if !errors.Is(err, context.Canceled) || storage.IsTransient(err) {
		t.Fatalf("cancelled with server error: %v", err)
	}
	// A fired watchdog is a transient timeout.
	w.fired.Store(true)
	err = s.classify(context.Background(), urlErrorOf(context.Canceled), w, false)
	if !storage.IsTransient(err) || !errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.Canceled) {
		t.Fatalf("stalled: %v", err)
	}
}

func urlErrorOf(err error) error { return &url.Error{Op: "Get", URL: "http://x/", Err: err} }

func TestCheckContentRange(t *testing.T) {
	for _, tc := range []struct {
		header string
		off    int64
		ok     bool
	}{
		{"bytes 10-19/100", 10, true},
		{"bytes 0-99/100", 0, true},
		{"bytes 11-19/100", 10, false},
		{"", 10, false},
		{"bytes */100", 10, false},
		{"items 10-19/100", 10, false},
	} {
		if err := checkContentRange(tc.header, tc.off); (err == nil) != tc.ok {
			t.Errorf("checkContentRange(%q, %d) = %v, want ok %v", tc.header, tc.off, err, tc.ok)
		}
	}
}

func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct {
		endpoint string
		insecure bool
		host     string
		secure   bool
		ok       bool
	}{
		{"s3.example.com", false, "s3.example.com", true, true},
		{"https://s3.example.com/", false, "s3.example.com", true, true},
		{"127.0.0.1:9000", true, "127.0.0.1:9000", false, true},
		{"http://127.0.0.1:9000", true, "127.0.0.1:9000", false, true},
		{"http://127.0.0.1:9000", false, "", false, false},
		{"https://s3.example.com", true, "", false, false},
		{"", false, "", false, false},
		{"host/path", false, "", false, false},
		{"user@host", false, "", false, false},
	} {
		host, secure, err := parseEndpoint(tc.endpoint, tc.insecure)
		if (err == nil) != tc.ok || host != tc.host || secure != tc.secure {
			t.Errorf("parseEndpoint(%q, %v) = %q, %v, %v", tc.endpoint, tc.insecure, host, secure, err)
		}
	}
}

// TestWatchdog checks that the no-progress timer cancels only while armed
// and that progress restarts it.
func TestWatchdog(t *testing.T) {
	s := &store{timeout: 20 * time.Millisecond}
	ctx, w := s.watch(context.Background())
	w.disarm()
	time.Sleep(3 * s.timeout)
	if ctx.Err() != nil || w.fired.Load() {
		t.Fatal("a disarmed watchdog fired")
	}
	w.arm()
	<-ctx.Done()
	if !w.fired.Load() || !errors.Is(context.Cause(ctx), errStalled) {
		t.Fatalf("armed watchdog: fired %v, cause %v", w.fired.Load(), context.Cause(ctx))
	}
	w.stop()
}
