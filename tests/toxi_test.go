package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/stream"
	"github.com/Shopify/toxiproxy/v2/toxics"
	"github.com/rs/zerolog"
)

// toxi is an in-process Toxiproxy proxy on 127.0.0.1 in front of one
// region's server. Toxics (latency, reset_peer, limit_data, timeout, and
// this file's budget toxic) are added and removed while lifeboat runs.
type toxi struct {
	proxy *toxiproxy.Proxy
}

// newToxi starts a proxy named name to upstream (host:port) on a free
// loopback port; it is stopped when t ends.
func newToxi(t testing.TB, name, upstream string) *toxi {
	t.Helper()
	registerBudgetToxic()
	api := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(api, name, "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatalf("toxiproxy %s: %v", name, err)
	}
	t.Cleanup(p.Stop)
	return &toxi{proxy: p}
}

// Listen is the proxy's address, host:port.
func (x *toxi) Listen() string { return x.proxy.Listen }

// add adds a toxic of type typ on stream ("upstream": requests to the
// server, "downstream": its answers) with the given attributes.
func (x *toxi) add(t testing.TB, name, typ, streamDir string, attrs map[string]any) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"name": name, "type": typ, "stream": streamDir, "toxicity": 1.0, "attributes": attrs})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.proxy.Toxics.AddToxicJson(strings.NewReader(string(body))); err != nil {
		t.Fatalf("toxiproxy %s: add %s toxic %s: %v", x.proxy.Name, typ, name, err)
	}
}

// remove removes the toxic name.
func (x *toxi) remove(t testing.TB, name string) {
	t.Helper()
	if err := x.proxy.Toxics.RemoveToxic(context.Background(), name); err != nil {
		t.Fatalf("toxiproxy %s: remove toxic %s: %v", x.proxy.Name, name, err)
	}
}

// budgetMode says what a budget toxic does once its budget is spent.
type budgetMode string

const (
	// budgetBlackhole swallows every later byte and keeps the
	// connections open: the region stops answering.
	budgetBlackhole budgetMode = "blackhole"
	// budgetCut closes every connection as soon as it carries a later
	// byte: answers are truncated, requests cut off.
	budgetCut budgetMode = "cut"
)

// budgetState is a budget toxic's shared state: bytes passed on all
// connections together and whether the budget ran out.
type budgetState struct {
	limit       int64
	mode        budgetMode
	onExhausted func()
	used        atomic.Int64
	fired       atomic.Bool
}

// Fired reports whether the budget ran out.
func (b *budgetState) Fired() bool { return b.fired.Load() }

// Used is the number of bytes the toxic has seen.
func (b *budgetState) Used() int64 { return b.used.Load() }

var (
	budgetOnce sync.Once
	budgets    sync.Map // key -> *budgetState
	budgetSeq  atomic.Int64
)

// budgetToxic lets the first Limit bytes of a direction through, counted over
// every connection of the proxy, then applies its mode to everything after;
// the moment the budget runs out it runs the state's onExhausted (once, in its
// own goroutine), e.g. to SIGKILL the server. Toxiproxy creates the toxic
// from JSON, so the attributes name a budgetState registered in budgets.
type budgetToxic struct {
	Key string `json:"key"`
}

func registerBudgetToxic() {
	budgetOnce.Do(func() { toxics.Register("lifeboat_budget", new(budgetToxic)) })
}

// Pipe implements toxics.Toxic.
func (b *budgetToxic) Pipe(stub *toxics.ToxicStub) {
	v, _ := budgets.Load(b.Key)
	st, _ := v.(*budgetState)
	for {
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				stub.Close()
				return
			}
			if st == nil {
				stub.Output <- c
				continue
			}
			n := int64(len(c.Data))
			after := st.used.Add(n)
			if before := after - n; before < st.limit {
				keep := min(n, st.limit-before)
				if keep == n {
					stub.Output <- c
					continue
				}
				stub.Output <- &stream.StreamChunk{Data: c.Data[:keep], Timestamp: c.Timestamp}
			}
			if !st.fired.Swap(true) && st.onExhausted != nil {
				go st.onExhausted()
			}
			if st.mode == budgetCut {
				stub.Close()
				return
			}
			// budgetBlackhole: drop c and keep reading.
		}
	}
}

// budget adds a budget toxic named name on streamDir that passes limit bytes
// and then applies mode; onExhausted (may be nil) runs when the budget runs
// out.
func (x *toxi) budget(t testing.TB, name, streamDir string, limit int64, mode budgetMode, onExhausted func()) *budgetState {
	t.Helper()
	st := &budgetState{limit: limit, mode: mode, onExhausted: onExhausted}
	key := fmt.Sprintf("%s/%s/%d", x.proxy.Name, name, budgetSeq.Add(1))
	budgets.Store(key, st)
	t.Cleanup(func() { budgets.Delete(key) })
	x.add(t, name, "lifeboat_budget", streamDir, map[string]any{"key": key})
	return st
}

// proxied puts a proxy in front of region i of e and makes e.Config use it.
func proxied(t *testing.T, e *s3Env, i, writeQuorum int) *toxi {
	t.Helper()
	x := newToxi(t, regionNames[i], e.Servers[i].Endpoint)
	e.Endpoints[i] = x.Listen()
	e.Config = e.writeConfig(writeQuorum, e.specs(nil)...)
	return x
}

// charlieFirst is a configuration of e's regions where charlie is
// preferred for reads.
func charlieFirst(e *s3Env) string {
	return e.writeConfig(0,
		regionSpec{Name: "charlie", Endpoint: e.Endpoints[2], Bucket: e.Servers[2].Bucket, Priority: 1},
		regionSpec{Name: "alpha", Endpoint: e.Endpoints[0], Bucket: e.Servers[0].Bucket, Priority: 2},
		regionSpec{Name: "bravo", Endpoint: e.Endpoints[1], Bucket: e.Servers[1].Bucket, Priority: 3},
	)
}

// Scenario d: a region that accepts connections but never answers (a
// Toxiproxy blackhole) does not stop a backup with write quorum 2 or a
// restore: both complete (within cmdTimeout) using the other regions.
func TestS3BlackholedRegion(t *testing.T) {
	t.Parallel() // mostly waiting on servers and timeouts; own ports and directories
	t.Run("from-start", func(t *testing.T) {
		t.Parallel() // each waits on dead-region timeouts, not on the CPU
		ctx := testContext(t, 4*time.Minute)
		e := newS3Env(ctx, t, 2)
		charlie := proxied(t, e, 2, 2)
		e.initRepo()
		// timeout 0: data is dropped and the connection never closed.
		charlie.add(t, "blackhole", "timeout", "upstream", map[string]any{"timeout": 0})
		e.mustRun(0, "--config", e.Config, "backup", e.Src)
		e.requireSameObjects(0, 1)
		e.restoreExact(charlieFirst(e))
	})
	t.Run("backup-midway", func(t *testing.T) {
		t.Parallel() // each waits on dead-region timeouts, not on the CPU
		ctx := testContext(t, 4*time.Minute)
		e := newS3Env(ctx, t, 2)
		charlie := proxied(t, e, 2, 2)
		e.initRepo()
		// charlie stops answering once it has received 1 MiB of the
		// backup's requests (of about 2.5 MiB).
		st := charlie.budget(t, "blackhole", "upstream", 1<<20, budgetBlackhole, nil)
		e.mustRun(0, "--config", e.Config, "backup", e.Src)
		if !st.Fired() {
			t.Fatalf("charlie was not blackholed during the backup (%d bytes sent)", st.Used())
		}
		t.Logf("%d bytes sent to charlie, the first %d answered", st.Used(), st.limit)
		e.requireSameObjects(0, 1)
		e.restoreExact(e.Config)
	})
	t.Run("restore-midway", func(t *testing.T) {
		t.Parallel() // each waits on dead-region timeouts, not on the CPU
		ctx := testContext(t, 4*time.Minute)
		e := newS3Env(ctx, t, 2)
		charlie := proxied(t, e, 2, 2)
		e.initRepo()
		e.mustRun(0, "--config", e.Config, "backup", e.Src)
		e.requireSameObjects(0, 1, 2)
		// charlie, preferred, stops answering in the middle of the
		// restore's reads.
		st := charlie.budget(t, "blackhole", "downstream", 512<<10, budgetBlackhole, nil)
		e.restoreExact(charlieFirst(e))
		if !st.Fired() {
			t.Fatalf("charlie was not blackholed during the restore (%d bytes served)", st.Used())
		}
	})
}

// Proxy faults on the preferred region (latency, connection resets,
// truncated answers): restores are exact, using the other regions where the
// faulty one fails.
func TestS3ProxyFaults(t *testing.T) {
	t.Parallel() // mostly waiting on servers and timeouts; own ports and directories
	for _, tc := range []struct {
		name   string
		before bool // add the toxic before the backup (else after it)
		typ    string
		stream string
		attrs  map[string]any
	}{
		{"latency", true, "latency", "downstream", map[string]any{"latency": 50}},
		{"reset-peer", false, "reset_peer", "upstream", map[string]any{"timeout": 0}},
		{"truncated-answers", false, "limit_data", "downstream", map[string]any{"bytes": 16 << 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t, 3*time.Minute)
			e := newS3Env(ctx, t, 2)
			alpha := proxied(t, e, 0, 2)
			e.initRepo()
			if tc.before {
				alpha.add(t, tc.name, tc.typ, tc.stream, tc.attrs)
			}
			e.mustRun(0, "--config", e.Config, "backup", e.Src)
			e.requireSameObjects(0, 1, 2)
			if !tc.before {
				alpha.add(t, tc.name, tc.typ, tc.stream, tc.attrs)
			}
			e.restoreExact(e.Config)
		})
	}
	t.Run("truncated-mid-restore", func(t *testing.T) {
		ctx := testContext(t, 3*time.Minute)
		e := newS3Env(ctx, t, 2)
		alpha := proxied(t, e, 0, 2)
		e.initRepo()
		e.mustRun(0, "--config", e.Config, "backup", e.Src)
		// After 512 KiB of answers, every connection to alpha is cut
		// at its next byte.
		st := alpha.budget(t, "cut", "downstream", 512<<10, budgetCut, nil)
		e.restoreExact(e.Config)
		if !st.Fired() {
			t.Fatalf("alpha's answers were not cut during the restore (%d bytes served)", st.Used())
		}
	})
}
