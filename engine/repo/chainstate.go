package repo

import (
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"lifeboat/engine/format"
)

// chainState is what this host last saw of a repository's history, kept
// in <StateDir>/chain/<repository id>.json (FORMAT.md §19 "Local state").
// It only grows: heads never go back, and objects leave it only when an
// authenticated tombstone records their deletion, so a rollback keeps
// being reported until the objects are back.
type chainState struct {
	Version    int    `json:"version"`
	Repository string `json:"repository"`
	// Heads are the chain heads this host verified, per writer; the
	// committed objects of every record up to them are in Committed.
	Heads map[string]format.ChainHead `json:"heads"`
	// Witnessed are the highest heads records named in their Seen.
	Witnessed map[string]format.ChainHead `json:"witnessed,omitempty"`
	// Committed maps every object a record names to that record's name
	// (and host).
	Committed map[string]string `json:"committed"`
	// Configs maps the recorded config hashes (hex) to their versions.
	Configs map[string]int `json:"configs,omitempty"`
	// Regions lists, per region, the committed objects and the chain
	// heads the region held when this host last looked.
	Regions map[string][]string `json:"regions,omitempty"`
}

const chainStateVersion = 1

func newChainState(repoID string) *chainState {
	return &chainState{Version: chainStateVersion, Repository: repoID,
		Heads: map[string]format.ChainHead{}, Witnessed: map[string]format.ChainHead{},
		Committed: map[string]string{}, Configs: map[string]int{}, Regions: map[string][]string{}}
}

func (r *Repository) chainStatePath() string {
	return filepath.Join(r.chain.stateDir, "chain", r.cfg.ID+".json")
}

// loadChainState reads this host's state of the repository (empty when
// there is none, no state directory, or it does not decode: the state
// only adds detection, so a lost one costs coverage, not correctness).
func (r *Repository) loadChainState() *chainState {
	st := newChainState(r.cfg.ID)
	if r.chain.stateDir == "" {
		return st
	}
	data, err := os.ReadFile(r.chainStatePath())
	if err != nil {
		return st
	}
	var got chainState
	if json.Unmarshal(data, &got) != nil || got.Version != chainStateVersion || got.Repository != r.cfg.ID {
		return st
	}
	st.merge(&got, nil)
	return st
}

// chainLockAttempts and chainLockWait bound waiting for the host's chain
// lock; past them the writer goes on without it (the lock only narrows
// races between processes of one host, see lockChain).
const (
	chainLockAttempts = 300
	chainLockWait     = 100 * time.Millisecond
)

// lockChain takes the host's lock of the repository's chain state
// (<StateDir>/chain/<repository id>.lock, flock): processes of one host
// then append to their shared chain one after the other, so that no
// record is ever created twice by racing conditional creates (which a
// region set may undo, after another host read the undone copy), and
// update the state in turn. It returns a no-op without a state directory
// or when the lock cannot be had within the bounds.
func (r *Repository) lockChain() (unlock func()) {
	if r.chain.stateDir == "" {
		return func() {}
	}
	p := filepath.Join(r.chain.stateDir, "chain", r.cfg.ID+".lock")
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return func() {}
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return func() {}
	}
	for range chainLockAttempts {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EWOULDBLOCK) {
			break
		}
		time.Sleep(chainLockWait)
	}
	if err != nil {
		f.Close()
		return func() {}
	}
	return func() { f.Close() }
}

// updateChainState re-reads the state, applies fn and writes it back
// (atomically, by rename), under the host's chain lock unless the caller
// holds it (locked).
func (r *Repository) updateChainState(fn func(*chainState)) { r.updateChainStateLocked(fn, false) }

func (r *Repository) updateChainStateLocked(fn func(*chainState), locked bool) {
	if r.chain.stateDir == "" {
		return
	}
	if !locked {
		defer r.lockChain()()
	}
	r.chain.mu.Lock()
	defer r.chain.mu.Unlock()
	st := r.loadChainState()
	fn(st)
	data, err := json.Marshal(st)
	if err != nil {
		return
	}
	p := r.chainStatePath()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".chain-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(data)
	if cerr := tmp.Close(); werr != nil || cerr != nil || os.Rename(tmp.Name(), p) != nil {
		_ = os.Remove(tmp.Name())
	}
}

func maxHead(m map[string]format.ChainHead, h format.ChainHead) {
	if h.Seq > m[h.Writer].Seq {
		m[h.Writer] = h
	}
}

// merge adds o to st, leaving out the objects in drop.
func (st *chainState) merge(o *chainState, drop map[string]bool) {
	for _, h := range o.Heads {
		maxHead(st.Heads, h)
	}
	for _, h := range o.Witnessed {
		maxHead(st.Witnessed, h)
	}
	for n, origin := range o.Committed {
		if _, ok := st.Committed[n]; !ok && !drop[n] {
			st.Committed[n] = origin
		}
	}
	maps.Copy(st.Configs, o.Configs)
	for reg, names := range o.Regions {
		all := append(slices.Clone(st.Regions[reg]), names...)
		all = slices.DeleteFunc(all, func(n string) bool { return drop[n] })
		slices.Sort(all)
		st.Regions[reg] = slices.Compact(all)
	}
}

// addRecord adds what rec committed, recorded as origin.
func (st *chainState) addRecord(rec *format.ChainRecord, origin string) {
	origin = chainOrigin(origin, rec.Host)
	add := func(name string) {
		if _, ok := st.Committed[name]; !ok {
			st.Committed[name] = origin
		}
	}
	for _, id := range rec.Snapshots {
		add(format.SnapshotName(id))
	}
	for _, id := range rec.Index {
		add(format.IndexName(id))
	}
	for _, id := range rec.Keys {
		add(format.KeyName(id))
	}
	if rec.Config != nil {
		st.Configs[rec.Config.Hash.String()] = rec.Config.Version
	}
	for _, h := range rec.Seen {
		maxHead(st.Witnessed, h)
	}
}
