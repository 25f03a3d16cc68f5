package s3server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"lifeboat/tests/testtool"
)

// Defaults for the servers Start launches.
const (
	// DefaultBucket is the bucket created when WithBucket is not given.
	DefaultBucket = "lifeboat"
	// DefaultAccessKey is the root access key when WithCredentials is not given.
	DefaultAccessKey = "lifeboat-test"
	// DefaultSecretKey is the root secret key when WithCredentials is not given.
	DefaultSecretKey = "lifeboat-test-secret"
)

// Bounds on waiting for the server process.
const (
	startTimeout = 20 * time.Second // until /health answers
	stopTimeout  = 5 * time.Second  // after SIGTERM, before SIGKILL
	logTailBytes = 4 << 10          // log tail quoted in failures
	startTries   = 3                // port clashes retried
)

// Option adjusts the server Start launches.
type Option func(*options)

type options struct {
	bucket    string
	accessKey string
	secretKey string
	iam       bool
	accessLog bool
	lock      bool
}

// WithAccessLog makes the server log every request it serves (see
// AccessLog).
func WithAccessLog() Option {
	return func(o *options) { o.accessLog = true }
}

// WithIAM runs the server with its internal IAM service (accounts kept in
// a directory), so that CreateUser can add accounts besides root.
func WithIAM() Option {
	return func(o *options) { o.iam = true }
}

// WithObjectLock creates the bucket through the S3 API with object lock
// enabled (x-amz-bucket-object-lock-enabled, which also enables
// versioning) and no default retention, instead of as a bare directory,
// which versitygw treats as a bucket without lock configuration.
func WithObjectLock() Option {
	return func(o *options) { o.lock = true }
}

// WithBucket names the bucket Start creates (default DefaultBucket). An empty
// name creates no bucket, for tests of a missing bucket.
func WithBucket(name string) Option {
	return func(o *options) { o.bucket = name }
}

// WithCredentials sets the server's root access and secret keys.
func WithCredentials(accessKey, secretKey string) Option {
	return func(o *options) { o.accessKey, o.secretKey = accessKey, secretKey }
}

// Server is a running versitygw process serving the posix backend.
type Server struct {
	// Endpoint is "127.0.0.1:port", without a scheme (plain HTTP).
	Endpoint string
	// Bucket is the bucket created at start ("" with WithBucket("")).
	Bucket string
	// AccessKey and SecretKey are the root credentials.
	AccessKey, SecretKey string
	// DataDir is the posix backend's root: bucket b's object k is the file
	// DataDir/b/k.
	DataDir string

	t       testing.TB
	bin     string
	verDir  string
	iamDir  string // "" without WithIAM
	accLog  string // "" without WithAccessLog
	logPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{} // closed when cmd has exited
	paused bool          // stopped with SIGSTOP, not yet continued

	markers int // marker requests sent by Requests
}

// Start launches a versitygw server for the duration of t, with a fresh data
// directory and one bucket, and waits until it answers its health check. It
// registers a cleanup that stops the server. Any failure is fatal to t.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	o := options{bucket: DefaultBucket, accessKey: DefaultAccessKey, secretKey: DefaultSecretKey}
	for _, opt := range opts {
		opt(&o)
	}
	dir := t.TempDir()
	s := &Server{
		Bucket:    o.bucket,
		AccessKey: o.accessKey,
		SecretKey: o.secretKey,
		DataDir:   filepath.Join(dir, "data"),
		t:         t,
		bin:       Binary(t),
		verDir:    filepath.Join(dir, "versions"),
		logPath:   filepath.Join(dir, "versitygw.log"),
	}
	if o.accessLog {
		s.accLog = filepath.Join(dir, "access.log")
	}
	dirs := []string{s.DataDir, s.verDir}
	if o.iam {
		s.iamDir = filepath.Join(dir, "iam")
		dirs = append(dirs, s.iamDir)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("s3server: %v", err)
		}
	}
	t.Cleanup(s.stop)

	var lastErr error
	for range startTries {
		port, err := testtool.FreePort()
		if err != nil {
			t.Fatalf("s3server: %v", err)
		}
		s.Endpoint = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if lastErr = s.launch(); lastErr == nil {
			break
		}
		// Another process may have taken the port between freePort and
		// versitygw's bind; try another one.
	}
	if lastErr != nil {
		t.Fatalf("s3server: %v\n%s", lastErr, s.LogTail())
	}
	switch {
	case s.Bucket != "" && o.lock:
		s.CreateLockedBucket(s.Bucket)
	case s.Bucket != "":
		s.CreateBucket(s.Bucket)
	}
	return s
}

// CreateLockedBucket creates a bucket with object lock (and so
// versioning) enabled, through the S3 API.
func (s *Server) CreateLockedBucket(name string) {
	s.t.Helper()
	c, err := minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), Region: "us-east-1"})
	if err != nil {
		s.t.Fatalf("s3server: client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := c.MakeBucket(ctx, name, minio.MakeBucketOptions{ObjectLocking: true}); err != nil {
		s.t.Fatalf("s3server: create locked bucket: %v\n%s", err, s.LogTail())
	}
}

// URL is the server's base URL, "http://127.0.0.1:port".
func (s *Server) URL() string { return "http://" + s.Endpoint }

// CreateBucket creates another bucket on the server. The posix backend keeps
// each bucket as a directory under DataDir, so this makes that directory.
func (s *Server) CreateBucket(name string) {
	s.t.Helper()
	if err := os.Mkdir(filepath.Join(s.DataDir, name), 0o755); err != nil {
		s.t.Fatalf("s3server: create bucket: %v", err)
	}
}

// CreateUser adds an account with the given keys and role ("user",
// "userplus" or "admin") through versitygw's admin API, as root. The
// server must have been started WithIAM. Failure is fatal to the test.
func (s *Server) CreateUser(accessKey, secretKey, role string) {
	s.t.Helper()
	if s.iamDir == "" {
		s.t.Fatalf("s3server: CreateUser needs a server started WithIAM")
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin, "admin",
		"--access", s.AccessKey, "--secret", s.SecretKey,
		"--endpoint-url", s.URL(),
		"create-user", "--access", accessKey, "--secret", secretKey, "--role", role)
	cmd.Env = cleanEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Fatalf("s3server: create user %s: %v\n%s", accessKey, err, out)
	}
}

// ObjectPath is the file holding object key of the server's bucket, for
// tests that corrupt or remove stored objects behind the server's back.
func (s *Server) ObjectPath(key string) string {
	return filepath.Join(s.DataDir, s.Bucket, filepath.FromSlash(key))
}

// Kill stops the server with SIGKILL, as if its host died. Requests to
// Endpoint fail with connection refused until Restart.
func (s *Server) Kill() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killLocked()
}

// Pause stops the server with SIGSTOP, as if its host froze: connections
// are still accepted by the kernel, but nothing is ever answered until
// Resume. Kill, Restart and the cleanup resume it first.
func (s *Server) Pause() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.t.Fatal("s3server: pause: the server is not running")
	}
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		s.t.Fatalf("s3server: pause: %v", err)
	}
	s.paused = true
	// The signal is delivered asynchronously: a thread busy in the
	// kernel may still answer a request unless we wait for every thread
	// to be stopped.
	if err := waitStopped(s.cmd.Process.Pid, true); err != nil {
		s.t.Fatalf("s3server: pause: %v", err)
	}
}

// Bounds of waiting for a signalled process to change state.
const (
	stateTimeout = 5 * time.Second
	statePoll    = 2 * time.Millisecond
)

// waitStopped waits until every thread of pid is stopped (state T in
// /proc/PID/task/*/stat), or none is, as stopped says.
func waitStopped(pid int, stopped bool) error {
	deadline := time.Now().Add(stateTimeout)
	for {
		all, err := threadsStopped(pid, stopped)
		if err != nil || all {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("process %d: threads not %s after %v", pid, map[bool]string{true: "stopped", false: "running"}[stopped], stateTimeout)
		}
		time.Sleep(statePoll)
	}
}

// threadsStopped reports whether every thread of pid is (stopped) or is
// not (!stopped) in state T.
func threadsStopped(pid int, stopped bool) (bool, error) {
	stats, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(stats) == 0 {
		return false, fmt.Errorf("process %d: no threads in /proc: %v", pid, err)
	}
	for _, p := range stats {
		data, err := os.ReadFile(p)
		if err != nil {
			return false, nil // a thread ended; look again
		}
		// pid (comm) state ...: comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(data, ')')
		if i < 0 || i+2 >= len(data) {
			return false, fmt.Errorf("%s: unexpected %q", p, data)
		}
		if (data[i+2] == 'T') != stopped {
			return false, nil
		}
	}
	return true, nil
}

// Resume continues a server stopped by Pause (SIGCONT); it does nothing to
// a server that is not paused.
func (s *Server) Resume() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.resumeLocked(); err != nil {
		s.t.Fatalf("s3server: resume: %v", err)
	}
}

// Paused reports whether the server is stopped by Pause.
func (s *Server) Paused() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paused
}

func (s *Server) resumeLocked() error {
	if !s.paused || s.cmd == nil {
		s.paused = false
		return nil
	}
	s.paused = false
	if err := s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		return err
	}
	return waitStopped(s.cmd.Process.Pid, false)
}

// Restart starts the server again on the same port with the same data,
// killing it first if it is still running, and waits until it is healthy.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	var err error
	// The port was ours a moment ago; a brief retry covers the kernel
	// releasing it.
	for range startTries {
		if err = s.launch(); err == nil {
			return
		}
	}
	s.t.Fatalf("s3server: restart: %v\n%s", err, s.LogTail())
}

// LogTail returns the last few KiB of the server's combined output.
func (s *Server) LogTail() string {
	data, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(no versitygw log: %v)", err)
	}
	if len(data) > logTailBytes {
		data = data[len(data)-logTailBytes:]
	}
	return "versitygw log tail:\n" + string(data)
}

// launch starts the process on s.Endpoint and waits for /health.
func (s *Server) launch() error {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer logf.Close() // the child keeps its own descriptor
	fmt.Fprintf(logf, "--- s3server: starting on %s at %s\n", s.Endpoint, time.Now().Format(time.RFC3339Nano))

	args := []string{
		"--port", s.Endpoint,
		"--health", "/health",
		"--quiet",
		"--keep-alive",
	}
	if s.iamDir != "" {
		args = append(args, "--iam-dir", s.iamDir)
	}
	if s.accLog != "" {
		args = append(args, "--access-log", s.accLog)
	}
	args = append(args, "posix", "--versioning-dir", s.verDir, s.DataDir)
	cmd := exec.Command(s.bin, args...)
	cmd.Env = append(cleanEnv(),
		"ROOT_ACCESS_KEY_ID="+s.AccessKey,
		"ROOT_SECRET_ACCESS_KEY="+s.SecretKey,
	)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()

	if err := waitHealthy(s.URL()+"/health", done); err != nil {
		s.Kill()
		return err
	}
	return nil
}

// stop ends the server at cleanup: SIGTERM, then SIGKILL after stopTimeout.
func (s *Server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	// A stopped process would not act on SIGTERM.
	_ = s.resumeLocked()
	select {
	case <-s.done:
	default:
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(stopTimeout):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	}
	s.cmd = nil
}

func (s *Server) killLocked() {
	if s.cmd == nil {
		return
	}
	_ = s.resumeLocked()
	select {
	case <-s.done:
	default:
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// waitHealthy polls url until it answers 200, the process exits, or
// startTimeout passes.
func waitHealthy(url string, exited <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("versitygw exited before becoming healthy")
		case <-ctx.Done():
			return fmt.Errorf("versitygw not healthy at %s after %v", url, startTimeout)
		case <-tick.C:
		}
	}
}

// cleanEnv is the test's environment without settings versitygw would pick
// up from it.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "VGW_") || strings.HasPrefix(kv, "ROOT_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Binary returns the path of the versitygw binary, installing it with
// scripts/install-versitygw.sh when it is nowhere to be found. Failure is
// fatal to t.
func Binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() { binPath, binErr = findOrInstall() })
	if binErr != nil {
		t.Fatalf("s3server: %v", binErr)
	}
	return binPath
}

func findOrInstall() (string, error) {
	if p := os.Getenv("LIFEBOAT_VERSITYGW"); p != "" {
		if testtool.IsExecutable(p) {
			return p, nil
		}
		return "", fmt.Errorf("LIFEBOAT_VERSITYGW=%s is not an executable file", p)
	}
	var candidates []string
	if d := os.Getenv("LIFEBOAT_TOOLS"); d != "" {
		candidates = append(candidates, filepath.Join(d, "versitygw"))
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, d := range filepath.SplitList(strings.TrimSpace(string(out))) {
			candidates = append(candidates, filepath.Join(d, "bin", "versitygw"))
		}
	}
	for _, p := range candidates {
		if testtool.IsExecutable(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	return install()
}

// install runs scripts/install-versitygw.sh.
func install() (string, error) {
	return testtool.Install("install-versitygw.sh", "versitygw", testtool.IsExecutable)
}

// Request is one request in the server's access log.
type Request struct {
	// Requester is the access key that signed it ("-": anonymous).
	Requester string
	// Operation is the S3 action, for example "s3_PutObject" or
	// "s3_DeleteObject".
	Operation string
	// Key is the object key ("-" for bucket requests).
	Key string
	// Status is the HTTP status answered.
	Status int
}

// Bounds on waiting for the access log to catch up (Requests).
const (
	logWait = 10 * time.Second
	logPoll = 20 * time.Millisecond
)

// Requests returns every request the server has logged, in order (the
// server must have been started WithAccessLog). The server logs a request
// once it has answered it, so Requests first sends a marker request of its
// own and waits (bounded) until the log holds it: every request answered
// before the call is then in the log. The markers (anonymous requests for
// keys under "s3server-marker-") are left out. Failure is fatal to the
// test.
func (s *Server) Requests() []Request {
	s.t.Helper()
	if s.accLog == "" {
		s.t.Fatalf("s3server: Requests needs a server started WithAccessLog")
	}
	s.markers++
	marker := fmt.Sprintf("s3server-marker-%d", s.markers)
	resp, err := http.Get(s.URL() + "/" + s.Bucket + "/" + marker)
	if err != nil {
		s.t.Fatalf("s3server: marker request: %v", err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(logWait)
	for {
		data, err := os.ReadFile(s.accLog)
		if err != nil {
			s.t.Fatalf("s3server: access log: %v", err)
		}
		var out []Request
		seen := false
		for _, line := range strings.Split(string(data), "\n") {
			r, ok := parseLogLine(line)
			if !ok {
				continue
			}
			if strings.HasPrefix(r.Key, "s3server-marker-") {
				seen = seen || r.Key == marker
				continue
			}
			out = append(out, r)
		}
		if seen {
			return out
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("s3server: marker request not logged within %v", logWait)
		}
		time.Sleep(logPoll)
	}
}

// parseLogLine parses one access log line: bucket owner, bucket, time (two
// fields), remote address, requester, request ID, operation, key, request
// URI, status, then more.
func parseLogLine(line string) (Request, bool) {
	f := strings.Fields(line)
	if len(f) < 11 || !strings.HasPrefix(f[2], "[") {
		return Request{}, false
	}
	status, err := strconv.Atoi(f[10])
	if err != nil {
		return Request{}, false
	}
	return Request{Requester: f[5], Operation: f[7], Key: f[8], Status: status}, true
}
