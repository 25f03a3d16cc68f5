package tests

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"lifeboat/engine/treecmp"
)

// binDir holds the lifeboat binary TestMain built.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

// buildAndRun builds the lifeboat binary once, with the go command of the
// toolchain running the tests, then runs the tests.
func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "lifeboat-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "tests: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	goCmd, err := goCommand()
	if err != nil {
		fmt.Fprintf(os.Stderr, "tests: %v\n", err)
		return 1
	}
	build := exec.Command(goCmd, "build", "-o", filepath.Join(dir, "lifeboat"), "lifeboat/cmd/lifeboat")
	build.Stdout = os.Stderr
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "tests: FAIL: building the lifeboat binary: %v\n", err)
		return 1
	}
	binDir = dir
	return m.Run()
}

// goCommand finds the go command of the toolchain whose GOROOT `go env`
// reports (the PATH's go, or /usr/local/go's when none is on PATH).
func goCommand() (string, error) {
	goPath, err := exec.LookPath("go")
	if err != nil {
		goPath = "/usr/local/go/bin/go"
	}
	out, err := exec.Command(goPath, "env", "GOROOT").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOROOT: %w", err)
	}
	goroot := strings.TrimSpace(string(out))
	if goroot == "" {
		return "", errors.New("go env GOROOT printed nothing")
	}
	return filepath.Join(goroot, "bin", "go"), nil
}

// TestCLI runs the scripts in testdata/script against the binary. Besides
// testscript's builtins they have:
//
//	mktree DIR SEED          write the deterministic sample tree
//	treecmp A B              fail with the differences between two trees
//	flipbyte FILE OFFSET     XOR one byte (negative OFFSET counts from the end)
//	corruptpack REPODIR      flip the middle byte of the largest pack; $PACK
//	                         is set to its object name (data/xx/…)
//	snapcount REPODIR N      REPODIR holds exactly N snapshots
//	dirstate DIR FILE        write DIR's sorted listing (modes, sizes,
//	                         SHA-256) to FILE, to compare with cmp
//	lbexit CODE ARGS...      run lifeboat ARGS and require exit code CODE
//	                         (stdout and stderr are kept for stdout/stderr)
//	stdoutvar VAR REGEXP     set VAR to REGEXP's first group in stdout
//	restorecheck SRC DST     every file of SRC is in DST with the same content
//	                         or absent and named in the last command's
//	                         output; at least one of each
func TestCLI(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireUniqueNames:  true,
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", binDir+string(os.PathListSeparator)+env.Getenv("PATH"))
			env.Setenv("HOME", filepath.Join(env.WorkDir, "home"))
			env.Setenv("XDG_CACHE_HOME", filepath.Join(env.WorkDir, "home", ".cache"))
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(env.WorkDir, "home", ".config"))
			for _, k := range []string{"LIFEBOAT_CONFIG", "LIFEBOAT_IDENTITY", "LIFEBOAT_PASSPHRASE", "LIFEBOAT_PASSPHRASE_FILE", "LIFEBOAT_NEW_PASSPHRASE_FILE", "LIFEBOAT_CACHE_DIR"} {
				env.Setenv(k, "")
			}
			return os.MkdirAll(filepath.Join(env.WorkDir, "home"), 0o700)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"mktree":       cmdMktree,
			"treecmp":      cmdTreecmp,
			"flipbyte":     cmdFlipbyte,
			"corruptpack":  cmdCorruptpack,
			"snapcount":    cmdSnapcount,
			"dirstate":     cmdDirstate,
			"lbexit":       cmdLbexit,
			"stdoutvar":    cmdStdoutvar,
			"restorecheck": cmdRestorecheck,
		},
	})
}

func noNeg(ts *testscript.TestScript, neg bool, name string) {
	if neg {
		ts.Fatalf("unsupported: ! %s", name)
	}
}

func cmdMktree(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "mktree")
	if len(args) != 2 {
		ts.Fatalf("usage: mktree DIR SEED")
	}
	seed, err := strconv.ParseUint(args[1], 10, 64)
	ts.Check(err)
	ts.Check(makeTree(ts.MkAbs(args[0]), seed, cliSizes))
}

func cmdTreecmp(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: treecmp A B")
	}
	diffs, err := treecmp.Compare(ts.MkAbs(args[0]), ts.MkAbs(args[1]), treecmp.Options{Limit: 50})
	ts.Check(err)
	if neg {
		if len(diffs) == 0 {
			ts.Fatalf("%s and %s are identical", args[0], args[1])
		}
		return
	}
	if len(diffs) > 0 {
		var b strings.Builder
		for _, d := range diffs {
			fmt.Fprintf(&b, "\n\t%s", d)
		}
		ts.Fatalf("%s and %s differ:%s", args[0], args[1], b.String())
	}
}

func cmdFlipbyte(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "flipbyte")
	if len(args) != 2 {
		ts.Fatalf("usage: flipbyte FILE OFFSET")
	}
	off, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	ts.Check(flipByte(ts.MkAbs(args[0]), off))
}

func cmdCorruptpack(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "corruptpack")
	if len(args) != 1 {
		ts.Fatalf("usage: corruptpack REPODIR")
	}
	root := ts.MkAbs(args[0])
	p, err := largestFile(filepath.Join(root, "data"))
	ts.Check(err)
	fi, err := os.Stat(p)
	ts.Check(err)
	ts.Check(flipByte(p, fi.Size()/2))
	rel, err := filepath.Rel(root, p)
	ts.Check(err)
	ts.Setenv("PACK", filepath.ToSlash(rel))
	ts.Logf("corrupted %s at %d", rel, fi.Size()/2)
}

func cmdSnapcount(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: snapcount REPODIR N")
	}
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	entries, err := os.ReadDir(filepath.Join(ts.MkAbs(args[0]), "snapshots"))
	ts.Check(err)
	n := 0
	for _, e := range entries {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
			n++
		}
	}
	if (n == want) == neg {
		ts.Fatalf("%s holds %d snapshots, want %s%d", args[0], n, map[bool]string{true: "not ", false: ""}[neg], want)
	}
}

func cmdDirstate(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "dirstate")
	if len(args) != 2 {
		ts.Fatalf("usage: dirstate DIR FILE")
	}
	s, err := dirState(ts.MkAbs(args[0]))
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(s), 0o644))
}

func cmdLbexit(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "lbexit")
	if len(args) < 2 {
		ts.Fatalf("usage: lbexit CODE ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec("lifeboat", args[1:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		got = ee.ExitCode()
	default:
		ts.Fatalf("lifeboat: %v", err)
	}
	if got != want {
		ts.Fatalf("lifeboat %s: exit code %d, want %d", strings.Join(args[1:], " "), got, want)
	}
}

func cmdStdoutvar(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "stdoutvar")
	if len(args) != 2 {
		ts.Fatalf("usage: stdoutvar VAR REGEXP")
	}
	re, err := regexp.Compile("(?m)" + args[1])
	ts.Check(err)
	m := re.FindStringSubmatch(ts.ReadFile("stdout"))
	if len(m) < 2 {
		ts.Fatalf("stdout does not match %q with a group", args[1])
	}
	ts.Setenv(args[0], m[1])
}

func cmdRestorecheck(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "restorecheck")
	if len(args) != 2 {
		ts.Fatalf("usage: restorecheck SRC DST")
	}
	// Failures go to stderr, or to stdout as JSON with --json.
	out := ts.ReadFile("stderr") + ts.ReadFile("stdout")
	rep, err := restoredState(ts.MkAbs(args[0]), ts.MkAbs(args[1]))
	ts.Check(err)
	missing, problems := rep.Missing, rep.Problems
	for _, m := range missing {
		quoted, err := json.Marshal("/" + m + ":")
		ts.Check(err)
		if !strings.Contains(out, "/"+m+":") && !strings.Contains(out, strings.Trim(string(quoted), `"`)) {
			problems = append(problems, fmt.Sprintf("%s: absent from the restore but not named in the output", m))
		}
	}
	if len(missing) == 0 {
		problems = append(problems, "no file is absent from the restore")
	}
	if len(missing) == rep.Files {
		problems = append(problems, "no file was restored")
	}
	if len(problems) > 0 {
		ts.Fatalf("restore of %s into %s:\n\t%s", args[0], args[1], strings.Join(problems, "\n\t"))
	}
	ts.Logf("absent from the restore: %s", strings.Join(missing, ", "))
}
