package tests

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// layer says where a package of the module sits: commands on top, then the
// engine and the scheduler, then storage and crypto, with internal helpers
// usable from anywhere.
func layer(pkg string) int {
	switch {
	case strings.HasPrefix(pkg, "lifeboat/cmd/"):
		return 3
	case strings.HasPrefix(pkg, "lifeboat/engine/"), strings.HasPrefix(pkg, "lifeboat/scheduler"):
		return 2
	case strings.HasPrefix(pkg, "lifeboat/storage"), strings.HasPrefix(pkg, "lifeboat/crypto"):
		return 1
	}
	return 0 // lifeboat/internal/…, lifeboat/tests/…
}

// soleImporters names, for each third-party module the guide assigns to one
// package, the only module packages that may import it.
var soleImporters = map[string][]string{
	"filippo.io/age":             {"lifeboat/crypto"},
	"github.com/robfig/cron/v3":  {"lifeboat/scheduler"},
	"github.com/minio/minio-go/": {"lifeboat/storage/s3"},
	"github.com/spf13/cobra":     {"lifeboat/cmd/lifeboat"},
}

// goListImports returns each non-test package of the module with its
// imports, from `go list`.
func goListImports(t *testing.T, tests bool) map[string][]string {
	t.Helper()
	goCmd, err := goCommand()
	if err != nil {
		t.Fatal(err)
	}
	format := `{{.ImportPath}} {{join .Imports " "}}`
	if tests {
		format = `{{.ImportPath}} {{join .Imports " "}} {{join .TestImports " "}} {{join .XTestImports " "}}`
	}
	cmd := exec.Command(goCmd, "list", "-f", format, "lifeboat/...")
	cmd.Dir = moduleRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		pkgs[f[0]] = f[1:]
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	return filepath.Dir(filepath.Dir(file))
}

// TestDependenciesPointOneWay enforces the architecture: cmd → engine and
// scheduler → storage and crypto; the scheduler never imports the engine;
// engine packages depend on interfaces, not on the region set; and each of
// age, cron, minio-go and cobra has exactly one importer.
func TestDependenciesPointOneWay(t *testing.T) {
	pkgs := goListImports(t, false)
	for pkg, imports := range pkgs {
		if strings.HasPrefix(pkg, "lifeboat/tests") {
			continue
		}
		for _, imp := range imports {
			if strings.HasPrefix(imp, "lifeboat/") {
				if strings.HasPrefix(imp, "lifeboat/tests") {
					t.Errorf("%s imports the test package %s", pkg, imp)
				}
				if layer(imp) > layer(pkg) || (layer(pkg) > 0 && layer(imp) == layer(pkg) && sameLayerForbidden(pkg, imp)) {
					t.Errorf("%s imports %s: dependencies point cmd → engine/scheduler → storage/crypto", pkg, imp)
				}
				if strings.HasPrefix(pkg, "lifeboat/engine/") && imp == "lifeboat/storage/regions" {
					t.Errorf("%s imports %s: engine packages declare the small interfaces they need", pkg, imp)
				}
			}
			for mod, allowed := range soleImporters {
				if strings.HasPrefix(imp, mod) && !slices.Contains(allowed, pkg) {
					t.Errorf("%s imports %s; only %v may", pkg, imp, allowed)
				}
			}
		}
	}
}

// sameLayerForbidden reports imports within one layer that the guide rules
// out: the scheduler and the engine do not know each other, and crypto and
// storage are independent.
func sameLayerForbidden(pkg, imp string) bool {
	top := func(p string) string {
		p = strings.TrimPrefix(p, "lifeboat/")
		if i := strings.IndexByte(p, '/'); i >= 0 {
			return p[:i]
		}
		return p
	}
	return top(pkg) != top(imp)
}

// wallClock matches a direct read of the wall clock.
var wallClock = regexp.MustCompile(`\btime\.Now\(\)`)

// TestClockInjected keeps time.Now behind injected clocks in the engine,
// storage and scheduler: a package reads the wall clock only in a function
// that is the default of an injectable clock.
func TestClockInjected(t *testing.T) {
	goCmd, err := goCommand()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(goCmd, "list", "-f", `{{.Dir}}{{range .GoFiles}} {{.}}{{end}}`, "lifeboat/engine/...", "lifeboat/storage/...", "lifeboat/scheduler/...", "lifeboat/crypto/...")
	cmd.Dir = moduleRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		for _, name := range f[1:] {
			path := filepath.Join(f[0], name)
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for i, l := range strings.Split(string(raw), "\n") {
				if wallClock.MatchString(l) && !strings.Contains(l, "// clock:") && !clockDefault.MatchString(l) {
					t.Errorf("%s:%d reads the wall clock directly; inject a clock (or mark the default with a `// clock:` comment): %s", path, i+1, strings.TrimSpace(l))
				}
			}
		}
	}
}

// clockDefault matches the one-line defaults of injectable clocks, such as
// `func (systemClock) Now() time.Time { return time.Now() }`.
var clockDefault = regexp.MustCompile(`func \([A-Za-z]*\) Now\(\) time\.Time\s*\{\s*return time\.Now\(\)\s*\}`)
