package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// drillReport is the part of `drill --json FILE` these tests read.
type drillReport struct {
	Name     string   `json:"name"`
	Snapshot string   `json:"snapshot"`
	Regions  []string `json:"regions"`
	Lost     []string `json:"lost"`
	Only     []string `json:"only"`
	Full     bool     `json:"full"`
	Files    int64    `json:"files"`
	Total    int64    `json:"files_total"`
	RTO      int64    `json:"rto_ns"`
	RPO      int64    `json:"rpo_ns"`
	Reads    map[string]struct {
		Objects int64 `json:"objects"`
	} `json:"reads"`
	PacksRead  map[string]int `json:"packs_read"`
	PacksTotal int            `json:"packs_total"`
	Failures   []struct {
		Path    string   `json:"path"`
		Kind    string   `json:"kind"`
		Objects []string `json:"objects"`
		Regions []string `json:"regions"`
	} `json:"failures"`
	Passed  bool `json:"passed"`
	Reasons []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"reasons"`
	Record string `json:"record"`
}

func (r drillReport) codes() []string {
	var out []string
	for _, x := range r.Reasons {
		out = append(out, x.Code)
	}
	return out
}

// drill runs `lifeboat drill` with --json into a new file, requires exit
// code, and returns the report.
func (e *s3Env) drill(config string, code int, args ...string) (drillReport, lbResult) {
	e.t.Helper()
	file := filepath.Join(e.Dir, fmt.Sprintf("drill-%d.json", e.seq()))
	res := e.mustRun(code, append([]string{"--config", config, "drill", "--json", file}, args...)...)
	data, err := os.ReadFile(file)
	if err != nil {
		e.t.Fatalf("drill wrote no JSON report: %v\n%s", err, res)
	}
	var rep drillReport
	if err := json.Unmarshal(data, &rep); err != nil {
		e.t.Fatalf("drill report: %v\n%s", err, data)
	}
	return rep, res
}

// TestS3Drill runs the restore drills of the issue through the CLI against
// three versitygw regions: a configured drill losing alpha passes; a pack
// corrupted in charlie fails a drill that may only read charlie, naming the
// file and the region; an RPO objective exceeded fails for that reason;
// the history lists all three and the coverage shows what was read where.
func TestS3Drill(t *testing.T) {
	t.Parallel() // mostly waiting on servers; own ports and directories
	ctx := testContext(t, 3*time.Minute)
	e := newS3Env(ctx, t, 0)
	e.initRepo()
	e.mustRun(0, "--config", e.Config, "backup", e.Src)
	cfgText, err := os.ReadFile(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(e.Dir, "drills.yaml")
	cfgText = append(cfgText, "drills:\n  - name: nightly\n    lose: [alpha]\n    rto: 10m\n    rpo: 1d\n"...)
	if err := os.WriteFile(config, cfgText, 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("lose-alpha-passes", func(t *testing.T) {
		e := e.with(t)
		rep, res := e.drill(config, 0, "--name", "nightly")
		if !rep.Passed || rep.Name != "nightly" || !slices.Equal(rep.Lost, []string{"alpha"}) ||
			!slices.Equal(rep.Regions, []string{"bravo", "charlie"}) {
			t.Fatalf("report %+v\n%s", rep, res)
		}
		if rep.RTO <= 0 || rep.RPO <= 0 || rep.Files != rep.Total || rep.Files == 0 || !rep.Full {
			t.Fatalf("RTO %d RPO %d files %d/%d full %v\n%s", rep.RTO, rep.RPO, rep.Files, rep.Total, rep.Full, res)
		}
		if rep.Reads["alpha"].Objects != 0 || rep.Reads["bravo"].Objects == 0 {
			t.Fatalf("reads %+v: want everything from bravo, nothing from alpha", rep.Reads)
		}
		if rep.Record == "" || len(objects(t, e.Servers[0], rep.Record)) != 1 {
			t.Fatalf("record %q is not in alpha (the drill only pretended to lose it)", rep.Record)
		}
		requireLineMatching(t, res.Stdout, `^RTO\s+\S+`, "the summary shows the RTO", res)
		requireLineMatching(t, res.Stdout, `^RPO\s+\S+.*objective 1d`, "the summary shows the RPO", res)
	})

	t.Run("corrupt-pack-fails", func(t *testing.T) {
		e := e.with(t)
		pack := e.packsBySize(2)[0]
		path := e.Servers[2].ObjectPath(pack)
		good, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		bad := slices.Clone(good)
		bad[len(bad)/2] ^= 0xff
		if err := os.WriteFile(path, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := os.WriteFile(path, good, 0o644); err != nil {
				t.Error(err)
			}
		}()
		rep, res := e.drill(config, 5, "--only", "charlie")
		if rep.Passed || !slices.Equal(rep.codes(), []string{"verification"}) {
			t.Fatalf("reasons %+v\n%s", rep.Reasons, res)
		}
		if len(rep.Failures) == 0 {
			t.Fatalf("no failure listed\n%s", res)
		}
		for _, f := range rep.Failures {
			if !strings.HasPrefix(f.Path, e.Src+"/") || !slices.Equal(f.Regions, []string{"charlie"}) || !slices.Contains(f.Objects, pack) {
				t.Errorf("failure %+v: want a file of %s, region charlie, object %s", f, e.Src, pack)
			}
		}
		requireLineMatching(t, res.Stderr, `drill failed: verification: .*`+regexp.QuoteMeta(rep.Failures[0].Path)+`.*region charlie`,
			"the reason names the file and the region", res)
	})

	t.Run("rpo-exceeded", func(t *testing.T) {
		e := e.with(t)
		rep, res := e.drill(config, 5, "--only", "bravo", "--rpo", "1ms")
		if rep.Passed || !slices.Equal(rep.codes(), []string{"rpo"}) {
			t.Fatalf("reasons %+v\n%s", rep.Reasons, res)
		}
		requireLineMatching(t, res.Stderr, `drill failed: rpo: RPO .* exceeds the objective 1ms`, "the reason", res)
	})

	t.Run("history", func(t *testing.T) {
		e := e.with(t)
		res := e.mustRun(0, "--config", config, "drill", "history", "--json")
		var rows []struct {
			Name    string   `json:"name"`
			Lost    []string `json:"lost"`
			Only    []string `json:"only"`
			Passed  bool     `json:"passed"`
			RTO     int64    `json:"rto_ns"`
			RPO     int64    `json:"rpo_ns"`
			Reasons []struct {
				Code string `json:"code"`
			} `json:"reasons"`
			PacksRead  map[string]int `json:"packs_read"`
			PacksTotal int            `json:"packs_total"`
		}
		if err := json.Unmarshal([]byte(res.Stdout), &rows); err != nil {
			t.Fatalf("history: %v\n%s", err, res)
		}
		if len(rows) != 3 {
			t.Fatalf("history lists %d drills, want 3\n%s", len(rows), res)
		}
		want := []struct {
			passed bool
			reason string
			only   string
		}{{true, "", ""}, {false, "verification", "charlie"}, {false, "rpo", "bravo"}}
		for i, w := range want {
			r := rows[i]
			if r.Passed != w.passed || r.RTO <= 0 || r.RPO <= 0 || (w.reason != "" && (len(r.Reasons) != 1 || r.Reasons[0].Code != w.reason)) {
				t.Errorf("history[%d] = %+v, want passed %v reason %q", i, r, w.passed, w.reason)
			}
			if (w.only == "" && !slices.Equal(r.Lost, []string{"alpha"})) || (w.only != "" && !slices.Equal(r.Only, []string{w.only})) {
				t.Errorf("history[%d]: lost %v only %v", i, r.Lost, r.Only)
			}
		}
		if rows[1].PacksRead["charlie"] != rows[1].PacksTotal-1 {
			t.Errorf("the corrupted drill read %v of %d packs, want all but the corrupted one in charlie", rows[1].PacksRead, rows[1].PacksTotal)
		}
		res = e.mustRun(0, "--config", config, "drill", "history")
		requireLineMatching(t, res.Stdout, `FAILED \(rpo\)`, "the table shows the failed RPO drill", res)

		res = e.mustRun(0, "--config", config, "drill", "coverage", "--json")
		var cov struct {
			Regions []struct {
				Region string  `json:"region"`
				Read   int     `json:"read"`
				Packs  int     `json:"packs"`
				Share  float64 `json:"share"`
			} `json:"regions"`
		}
		if err := json.Unmarshal([]byte(res.Stdout), &cov); err != nil || len(cov.Regions) != 3 {
			t.Fatalf("coverage: %v\n%s", err, res)
		}
		got := map[string]float64{}
		for _, c := range cov.Regions {
			got[c.Region] = c.Share
		}
		if got["alpha"] != 0 || got["bravo"] != 1 || got["charlie"] >= 1 || got["charlie"] == 0 {
			t.Fatalf("coverage %v: want alpha 0 (lost), bravo 1, charlie all but the corrupted pack", got)
		}
	})

	// Sampled drills that may read only alpha cover all of alpha's packs
	// within a bounded number of runs, because sampling favours the packs
	// read least recently.
	t.Run("sampled-coverage-completes", func(t *testing.T) {
		e := e.with(t)
		const maxDrills = 25
		for i := 1; i <= maxDrills; i++ {
			rep, res := e.drill(config, 0, "--only", "alpha", "--sample", "1%", "--seed", fmt.Sprint(i))
			if !rep.Passed || rep.Full {
				t.Fatalf("sampled drill %d: %+v\n%s", i, rep, res)
			}
			res = e.mustRun(0, "--config", config, "drill", "coverage", "--json")
			var cov struct {
				Regions []struct {
					Region string  `json:"region"`
					Share  float64 `json:"share"`
				} `json:"regions"`
			}
			if err := json.Unmarshal([]byte(res.Stdout), &cov); err != nil {
				t.Fatalf("coverage: %v\n%s", err, res)
			}
			for _, c := range cov.Regions {
				if c.Region == "alpha" && c.Share >= 1 {
					t.Logf("alpha fully covered after %d sampled drills", i)
					return
				}
			}
		}
		t.Fatalf("alpha not fully covered after %d sampled drills", maxDrills)
	})
}
