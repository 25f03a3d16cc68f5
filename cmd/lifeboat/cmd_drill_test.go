package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// lb runs the CLI in process and returns its exit code and output.
func lb(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestDrillCommand runs drills of a configuration with two local regions:
// a configured drill by name, flags overriding it, usage errors, the
// history and the coverage (to which check contributes).
func TestDrillCommand(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	for i := range 12 {
		p := filepath.Join(src, fmt.Sprintf("d%d", i%3), fmt.Sprintf("f%d", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, bytes.Repeat([]byte(fmt.Sprintf("file %d\n", i)), 1000*(i+1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	id := filepath.Join(dir, "id.txt")
	cfg := filepath.Join(dir, "lifeboat.yaml")
	err := os.WriteFile(cfg, fmt.Appendf(nil, `version: 1
regions:
  - {name: alpha, type: local, path: %q}
  - {name: bravo, type: local, path: %q}
drills:
  - name: nightly
    lose: [alpha]
    sample: 50%%
    rpo: 1d
`, filepath.Join(dir, "alpha"), filepath.Join(dir, "bravo")), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	base := []string{"--config", cfg, "--identity", id, "--no-cache"}
	must := func(want int, args ...string) (string, string) {
		t.Helper()
		code, out, errOut := lb(t, append(slices.Clone(base), args...)...)
		if code != want {
			t.Fatalf("lifeboat %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, want, out, errOut)
		}
		return out, errOut
	}
	if code, out, errOut := lb(t, "key", "generate", "-o", id); code != 0 {
		t.Fatalf("key generate: %d %s %s", code, out, errOut)
	}
	must(0, "init")
	must(0, "backup", src)

	type report struct {
		Name    string                  `json:"name"`
		Lost    []string                `json:"lost"`
		Regions []string                `json:"regions"`
		Full    bool                    `json:"full"`
		Sample  float64                 `json:"sample_percent"`
		Passed  bool                    `json:"passed"`
		Files   int64                   `json:"files"`
		Sampled int64                   `json:"sampled_files"`
		RPOObj  int64                   `json:"rpo_objective_ns"`
		Reasons []struct{ Code string } `json:"reasons"`
	}
	decode := func(out string) report {
		t.Helper()
		var r report
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("drill --json -: %v\n%s", err, out)
		}
		return r
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"unknown-drill", []string{"drill", "--name", "weekly"}},
		{"lose-and-only", []string{"drill", "--lose", "alpha", "--only", "bravo"}},
		{"lose-everything", []string{"drill", "--lose", "alpha,bravo"}},
		{"unknown-region", []string{"drill", "--only", "charlie"}},
		{"bad-sample", []string{"drill", "--sample", "0%"}},
		{"bad-rto", []string{"drill", "--rto", "soon"}},
	} {
		t.Run(tc.name, func(t *testing.T) { must(2, tc.args...) })
	}

	out, _ := must(0, "drill", "--name", "nightly", "--json", "-", "--seed", "7")
	r := decode(out)
	if r.Name != "nightly" || !slices.Equal(r.Lost, []string{"alpha"}) || !slices.Equal(r.Regions, []string{"bravo"}) ||
		r.Full || r.Sample != 50 || !r.Passed || r.Files == 0 || r.Files != r.Sampled || r.RPOObj != 86400e9 {
		t.Fatalf("configured drill: %+v", r)
	}
	// Flags override the configured drill: full, a tighter RPO.
	out, errOut := must(5, "drill", "--name", "nightly", "--full", "--rpo", "1ms", "--json", "-")
	r = decode(out)
	if !r.Full || r.Passed || len(r.Reasons) != 1 || r.Reasons[0].Code != "rpo" || !strings.Contains(errOut, "drill failed: rpo:") {
		t.Fatalf("overridden drill: %+v\n%s", r, errOut)
	}
	// The human summary.
	out, _ = must(0, "drill", "--only", "alpha")
	for _, want := range []string{"PASSED", "read alpha", "RTO", "RPO", "coverage", "record"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}

	out, _ = must(0, "--json", "drill", "history")
	var rows []struct {
		Name   string `json:"name"`
		Passed bool   `json:"passed"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 3 {
		t.Fatalf("history (%v): %s", err, out)
	}
	if rows[0].Name != "nightly" || !rows[0].Passed || rows[1].Passed || !rows[2].Passed {
		t.Fatalf("history %+v", rows)
	}

	must(0, "check", "--read-data")
	out, _ = must(0, "drill", "coverage", "--json", "--days", "1")
	var cov struct {
		Regions []struct {
			Region string  `json:"region"`
			Share  float64 `json:"share"`
		} `json:"regions"`
	}
	if err := json.Unmarshal([]byte(out), &cov); err != nil || len(cov.Regions) != 2 || cov.Regions[0].Share != 1 || cov.Regions[1].Share != 1 {
		t.Fatalf("coverage (%v): %s", err, out)
	}
}
