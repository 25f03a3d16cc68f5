package s3rver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"lifeboat/tests/testtool"
)

// Defaults of the servers Start launches.
const (
	// Bucket is the bucket Start creates.
	Bucket = "lifeboat"
	// AccessKey and SecretKey are s3rver's built-in credentials.
	AccessKey = "S3RVER"
	SecretKey = "S3RVER"
)

// Bounds on waiting for the server process.
const (
	startTimeout = 20 * time.Second // until it answers HTTP
	stopTimeout  = 5 * time.Second  // after SIGTERM, before SIGKILL
	logTailBytes = 4 << 10
	startTries   = 3 // port clashes retried
)

// Server is a running s3rver process.
type Server struct {
	// Endpoint is "127.0.0.1:port", without a scheme (plain HTTP).
	Endpoint string
	// Bucket is the bucket created at start.
	Bucket string
	// AccessKey and SecretKey are the credentials the server accepts.
	AccessKey, SecretKey string

	t       testing.TB
	js      string
	dataDir string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
}

// Start launches an s3rver server for the duration of t with a fresh data
// directory and the bucket Bucket, and waits until it answers. Any failure
// is fatal to t.
func Start(t testing.TB) *Server {
	t.Helper()
	dir := t.TempDir()
	s := &Server{
		Bucket: Bucket, AccessKey: AccessKey, SecretKey: SecretKey,
		t: t, js: Script(t),
		dataDir: filepath.Join(dir, "data"), logPath: filepath.Join(dir, "s3rver.log"),
	}
	if err := os.MkdirAll(s.dataDir, 0o755); err != nil {
		t.Fatalf("s3rver: %v", err)
	}
	t.Cleanup(s.stop)
	var err error
	for range startTries {
		var port int
		if port, err = testtool.FreePort(); err != nil {
			t.Fatalf("s3rver: %v", err)
		}
		s.Endpoint = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if err = s.launch(); err == nil {
			return s
		}
	}
	t.Fatalf("s3rver: %v\n%s", err, s.LogTail())
	return nil
}

// LogTail returns the last few KiB of the server's output.
func (s *Server) LogTail() string {
	data, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(no s3rver log: %v)", err)
	}
	if len(data) > logTailBytes {
		data = data[len(data)-logTailBytes:]
	}
	return "s3rver log tail:\n" + string(data)
}

func (s *Server) launch() error {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer logf.Close()
	host, port, _ := net.SplitHostPort(s.Endpoint)
	cmd := exec.Command("node", s.js, "--directory", s.dataDir, "--address", host, "--port", port,
		"--silent", "--no-vhost-buckets", "--configure-bucket", s.Bucket)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start node %s: %w", s.js, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.cmd, s.done = cmd, done
	if err := waitUp("http://"+s.Endpoint+"/", done); err != nil {
		s.kill()
		return err
	}
	return nil
}

// stop ends the server at cleanup: SIGTERM, then SIGKILL after stopTimeout.
func (s *Server) stop() {
	if s.cmd == nil {
		return
	}
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

func (s *Server) kill() {
	if s.cmd == nil {
		return
	}
	select {
	case <-s.done:
	default:
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// waitUp polls url until the server answers at all, the process exits, or
// startTimeout passes.
func waitUp(url string, exited <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-exited:
			return errors.New("s3rver exited before answering")
		case <-ctx.Done():
			return fmt.Errorf("s3rver not answering at %s after %v", url, startTimeout)
		case <-tick.C:
		}
	}
}

var (
	scriptOnce sync.Once
	scriptPath string
	scriptErr  error
)

// Script returns the path of s3rver.js, installing s3rver with
// scripts/install-s3rver.sh when LIFEBOAT_S3RVER is unset. Failure is fatal
// to t.
func Script(t testing.TB) string {
	t.Helper()
	scriptOnce.Do(func() { scriptPath, scriptErr = findOrInstall() })
	if scriptErr != nil {
		t.Fatalf("s3rver: %v", scriptErr)
	}
	return scriptPath
}

func findOrInstall() (string, error) {
	if _, err := exec.LookPath("node"); err != nil {
		return "", fmt.Errorf("node not found (apt-get install nodejs npm): %w", err)
	}
	if p := os.Getenv("LIFEBOAT_S3RVER"); p != "" {
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			return "", fmt.Errorf("LIFEBOAT_S3RVER=%s is not a file", p)
		}
		return p, nil
	}
	return testtool.Install("install-s3rver.sh", "s3rver", testtool.IsFile)
}
