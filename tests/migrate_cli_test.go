package tests

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"lifeboat/engine/format"
)

// lifeboatCLI runs the lifeboat binary on the fixture copy in dir and
// returns its stdout, stderr and exit code.
func lifeboatCLI(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	args = append([]string{"--repo", filepath.Join(dir, "repo"), "--identity", filepath.Join(dir, "identity.txt"), "--no-cache"}, args...)
	cmd := exec.Command(filepath.Join(binDir, "lifeboat"), args...)
	cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

func TestMigrateCommand(t *testing.T) {
	dir := copyFixture(t, "v2")
	cfgPath := filepath.Join(dir, "repo", format.ConfigName)
	before, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := lifeboatCLI(t, dir, "migrate", "--dry-run")
	if code != 0 || !strings.Contains(out, "would raise from version 2 to 5") || !strings.Contains(out, "LBT3") {
		t.Fatalf("migrate --dry-run: exit %d\n%s%s", code, out, errOut)
	}
	if after, _ := os.ReadFile(cfgPath); !bytes.Equal(after, before) {
		t.Fatal("migrate --dry-run changed the config")
	}
	for _, args := range [][]string{{"migrate", "--to", "6"}, {"migrate", "--to", "1"}} {
		if out, errOut, code := lifeboatCLI(t, dir, args...); code != 2 {
			t.Fatalf("%v: exit %d, want 2\n%s%s", args, code, out, errOut)
		}
	}
	// --to 4 stops at version 4 (no commit chains); the default goes on
	// to 5.
	for _, step := range []struct {
		args     []string
		from, to int
	}{{[]string{"migrate", "--to", "4", "--json"}, 2, 4}, {[]string{"migrate", "--json"}, 4, 5}} {
		out, errOut, code = lifeboatCLI(t, dir, step.args...)
		var res struct {
			From, To int
			Regions  []struct{ Action string }
		}
		if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil || res.From != step.from || res.To != step.to || len(res.Regions) != 1 || res.Regions[0].Action != "raise" {
			t.Fatalf("%v: exit %d, %v\n%s%s", step.args, code, err, out, errOut)
		}
		_, err := os.Stat(filepath.Join(dir, "repo", "chain"))
		if has := err == nil; has != (step.to >= 5) {
			t.Fatalf("after %v: commit chains stored: %v", step.args, has)
		}
	}
	out, errOut, code = lifeboatCLI(t, dir, "migrate")
	if code != 0 || !strings.Contains(out, "already at version 5") || !strings.Contains(out, "nothing to do") {
		t.Fatalf("second migrate: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := lifeboatCLI(t, dir, "snapshots"); code != 0 {
		t.Fatalf("snapshots after migrate: exit %d\n%s%s", code, out, errOut)
	}

	// A repository a newer release migrated to version 6: refused with
	// its own message and exit code 7, not as damaged data.
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	dk := masterKey(t, dir).DataKey()
	plain, err := dk.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	plain = bytes.Replace(plain, []byte(`"version":5`), []byte(`"version":6`), 1)
	sealed, err := dk.Seal(plain)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, sealed, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"snapshots"}, {"migrate"}, {"backup", dir}} {
		out, errOut, code := lifeboatCLI(t, dir, args...)
		if code != 7 || !strings.Contains(errOut, "format version 6 is newer than this lifeboat understands") ||
			!strings.Contains(errOut, "upgrade lifeboat") || strings.Contains(errOut, "malformed") {
			t.Fatalf("%v on a version 6 repository: exit %d, want 7\n%s%s", args, code, out, errOut)
		}
	}
}
