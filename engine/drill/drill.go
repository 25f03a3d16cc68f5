package drill

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/engine/restore"
	"lifeboat/storage"
)

// Options describe a drill.
type Options struct {
	// Snapshot selects the snapshot: "latest" (or "") or an ID prefix.
	Snapshot string
	// Filter narrows "latest" (e.g. to a configured source's paths).
	Filter repo.Filter
	// Name is the configured drill's name ("" for an ad-hoc drill).
	Name string
	// Host is recorded in the report ("" leaves it empty).
	Host string
	// Lose and Only name the regions the drill pretends are lost, or the
	// only ones it may use. They are recorded in the report; the caller
	// opens r on the remaining regions (Keep), so that the drill
	// restores exactly as a real restore after that outage would.
	Lose, Only []string
	// SamplePercent restores and verifies that share of the snapshot's
	// file bytes (0 < x < 100), a seeded subset of the files chosen to
	// reach the packs least recently read first. 0 or 100 is a full drill.
	SamplePercent float64
	// Full restores everything whatever SamplePercent says.
	Full bool
	// Seed picks the sample (0: derived from the start time; the seed
	// used is reported, so a drill can be repeated).
	Seed uint64
	// Target is the scratch directory ("": a fresh temporary directory).
	// It must not exist or be empty. What the drill restored is removed
	// afterwards unless Keep.
	Target string
	// Keep leaves the restored tree in Target.
	Keep bool
	// RTO and RPO are the objectives (0: not judged): the restore must be
	// verified within RTO (for a sampled drill, the RTO extrapolated to
	// the whole snapshot), and the snapshot must be younger than RPO.
	RTO, RPO time.Duration
	// Against, when set, is an absolute path in the live file system,
	// inside the snapshot's paths, compared with the snapshot: what
	// changed, appeared or disappeared since is reported as drift, apart
	// from the failures.
	Against string
	// Now is the clock (nil: the repository's).
	Now func() time.Time
	// Evidence is the repository the drill's record is stored in and past
	// records are read from (nil: r). The CLI passes the repository opened
	// on every configured region, so that the record reaches every region
	// that can be written, including the ones the drill pretends are lost.
	Evidence *repo.Repository
	// NoRecord skips storing the record.
	NoRecord bool
	// Ransomware, when not nil, makes this a ransomware drill: r reads
	// the regions as of the simulated attack with only the versions that
	// survive it (see Ransomware); it is recorded in the report.
	Ransomware *Ransomware
	// Workers bound restore and verification parallelism (0: GOMAXPROCS+1).
	Workers int
	// MaxListed bounds the paths listed in the report per list (0: 1000).
	MaxListed int
}

// ReasonCode says why a drill failed.
type ReasonCode string

// The reasons a drill fails; each is reported at most once.
const (
	// ReasonVerify: a file could not be restored correctly, or the restored
	// copy on disk does not match the snapshot.
	ReasonVerify ReasonCode = "verification"
	// ReasonUnavailable: the remaining regions could not serve some data
	// (missing or unreachable objects, no repository).
	ReasonUnavailable ReasonCode = "unavailable"
	// ReasonNoSnapshot: the regions answered, but no snapshot matches the
	// drill's selection (none yet, a wrong ID, a source never backed up):
	// there was nothing to drill. Not an outage.
	ReasonNoSnapshot ReasonCode = "no-snapshot"
	// ReasonRTO: the (extrapolated) recovery time exceeded the objective.
	ReasonRTO ReasonCode = "rto"
	// ReasonRPO: the snapshot was older than the objective.
	ReasonRPO ReasonCode = "rpo"
)

// Reason is one cause of a failed drill.
type Reason struct {
	Code    ReasonCode `json:"code"`
	Message string     `json:"message"`
}

// Failure kinds.
const (
	// KindIntegrity: stored data failed verification in every region
	// that served it.
	KindIntegrity = "integrity"
	// KindUnavailable: no region could serve the data.
	KindUnavailable = "unavailable"
	// KindMismatch: the restored copy on disk differs from the snapshot.
	KindMismatch = "mismatch"
	// KindLocal: the scratch directory could not be written or read.
	KindLocal = "local"
)

// Failure is one entry that did not restore or verify.
type Failure struct {
	// Path is the snapshot path ("" when the drill could not start).
	Path string `json:"path"`
	// Kind is one of the Kind constants.
	Kind  string `json:"kind"`
	Error string `json:"error"`
	// Objects are the stored objects (packs) that failed, when known.
	Objects []string `json:"objects,omitempty"`
	// Regions are the regions that could not serve them.
	Regions []string `json:"regions,omitempty"`
}

// DriftEntry is one difference between the live source and the snapshot.
type DriftEntry struct {
	Path string `json:"path"`
	// Change: "type", "mode", "size", "mtime", "content" or
	// "link-target" (several joined by ",").
	Change string `json:"change,omitempty"`
}

// Drift is what changed in the live source since the snapshot. It is not
// a failure.
type Drift struct {
	Path         string       `json:"path"`
	Changed      []DriftEntry `json:"changed,omitempty"`
	New          []string     `json:"new,omitempty"`
	Deleted      []string     `json:"deleted,omitempty"`
	ChangedCount int64        `json:"changed_count"`
	NewCount     int64        `json:"new_count"`
	DeletedCount int64        `json:"deleted_count"`
	// Error is set when the comparison could not be completed.
	Error string `json:"error,omitempty"`
}

// Report is the result and evidence of a drill. Durations are in
// nanoseconds in JSON.
type Report struct {
	Name string `json:"name,omitempty"`
	Host string `json:"host,omitempty"`
	// Start and End bound the drill (RTO runs from Start to the verified
	// restore).
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Snapshot is the drilled snapshot's ID ("" when none could be read).
	Snapshot     string    `json:"snapshot,omitempty"`
	SnapshotTime time.Time `json:"snapshot_time,omitzero"`
	Paths        []string  `json:"paths,omitempty"`
	// Regions are the regions the drill read from, in preference order.
	Regions []string `json:"regions"`
	Lost    []string `json:"lost,omitempty"`
	Only    []string `json:"only,omitempty"`
	// Full is false for a sampled drill.
	Full          bool    `json:"full"`
	SamplePercent float64 `json:"sample_percent"`
	Seed          uint64  `json:"seed,omitempty"`
	Target        string  `json:"target"`
	Kept          bool    `json:"kept,omitempty"`

	// FilesTotal and BytesTotal count the snapshot's regular files.
	FilesTotal int64 `json:"files_total"`
	BytesTotal int64 `json:"bytes_total"`
	// Files and Bytes count the regular files restored and verified.
	Files int64 `json:"files"`
	Bytes int64 `json:"bytes"`
	// Dirs, Symlinks and Other (FIFOs, devices) count verified entries.
	Dirs     int64 `json:"dirs"`
	Symlinks int64 `json:"symlinks"`
	Other    int64 `json:"other"`
	// Skipped counts entries a drill does not restore: sockets, and
	// device nodes unless running as root.
	Skipped int64 `json:"skipped,omitempty"`
	// SampledFiles and SampledBytes are the files a sampled drill picked;
	// Sampled lists them (at most MaxListed).
	SampledFiles int64    `json:"sampled_files,omitempty"`
	SampledBytes int64    `json:"sampled_bytes,omitempty"`
	Sampled      []string `json:"sampled,omitempty"`

	// RTO is the measured time from Start to the verified restore.
	RTO time.Duration `json:"rto_ns"`
	// RTOExtrapolated is, for a sampled drill, the RTO extrapolated to the
	// whole snapshot by bytes (setup + restore and verification time ×
	// BytesTotal/Bytes). An estimate, not a measurement.
	RTOExtrapolated time.Duration `json:"rto_extrapolated_ns,omitempty"`
	// RestoreTime and VerifyTime split the RTO's main phases.
	RestoreTime time.Duration `json:"restore_ns"`
	VerifyTime  time.Duration `json:"verify_ns"`
	// RPO is the snapshot's age at Start.
	RPO time.Duration `json:"rpo_ns"`
	// Throughput is Bytes per second of RTO.
	Throughput   float64       `json:"throughput_bytes_per_second"`
	RTOObjective time.Duration `json:"rto_objective_ns,omitempty"`
	RPOObjective time.Duration `json:"rpo_objective_ns,omitempty"`

	// Reads, Failovers and Repairs are the drill's read statistics
	// (repo.ReadStats): what each region served, and every object a
	// region could not serve correctly.
	Reads     map[string]*repo.RegionReads `json:"reads"`
	Failovers []repo.Failover              `json:"failovers,omitempty"`
	Repairs   []repo.Repair                `json:"repairs,omitempty"`

	// PacksTotal is the number of packs in the index; PacksRead counts,
	// per region, the packs read there whose data verified (the coverage
	// this drill adds; empty when the storage was not wrapped by Track).
	PacksTotal int            `json:"packs_total"`
	PacksRead  map[string]int `json:"packs_read,omitempty"`

	// Failures lists what did not restore or verify (at most MaxListed);
	// FailureCount counts all of them.
	Failures     []Failure `json:"failures,omitempty"`
	FailureCount int64     `json:"failure_count"`
	// Drift compares the live source with the snapshot (Options.Against).
	Drift *Drift `json:"drift,omitempty"`

	// Ransomware is the simulated attack of a ransomware drill.
	Ransomware *Ransomware `json:"ransomware,omitempty"`

	// Passed is true when there is no Reason.
	Passed   bool     `json:"passed"`
	Reasons  []Reason `json:"reasons,omitempty"`
	Warnings []string `json:"warnings,omitempty"`

	// Record is the ID of the stored record; RecordError says why it could
	// not be stored (in every region). Neither is part of the record.
	Record      string `json:"record,omitempty"`
	RecordError string `json:"record_error,omitempty"`
}

// Reason returns the reason with the given code, if the drill failed for it.
func (rep *Report) Reason(code ReasonCode) (Reason, bool) {
	for _, r := range rep.Reasons {
		if r.Code == code {
			return r, true
		}
	}
	return Reason{}, false
}

func (o *Options) check() error {
	switch {
	case o.SamplePercent < 0 || o.SamplePercent > 100 || math.IsNaN(o.SamplePercent):
		return fmt.Errorf("drill: sample %v%% is not within 0..100", o.SamplePercent)
	case o.RTO < 0 || o.RPO < 0:
		return errors.New("drill: negative objective")
	case len(o.Lose) > 0 && len(o.Only) > 0:
		return fmt.Errorf("%w: lose and only exclude each other", ErrRegions)
	case o.Against != "" && !filepath.IsAbs(o.Against):
		return fmt.Errorf("drill: against %q: not an absolute path", o.Against)
	}
	return nil
}

func (o *Options) sampling() bool {
	return !o.Full && o.SamplePercent > 0 && o.SamplePercent < 100
}

// drill is one run.
type drill struct {
	r        *repo.Repository
	opts     Options
	now      func() time.Time
	rep      *Report
	evidence *repo.Repository
	tracker  *Tracker
	before   repo.ReadStats
	owner    bool
	maxList  int

	target    string
	plan      *plan
	selected  map[string]bool // sampled: snapshot paths restored
	picked    map[string]bool // sampled: regular files picked
	verifier  *verifier
	records   []*Record
	startTime time.Time

	mu         sync.Mutex
	restoreErr map[string]error    // by snapshot path
	failed     map[string]bool     // paths already reported
	unserved   map[string][]string // after the restore: object -> regions that failed it, served by none
	nUnavail   int64               // failures of KindUnavailable
	noSnapshot bool                // no snapshot matched the selection
}

// Run restores the selected snapshot of r into a scratch directory,
// verifies it, judges it and stores its record. It returns an error only
// for bad options, an unusable target directory or a cancelled context;
// everything that goes wrong with the repository's data is in the report.
func Run(ctx context.Context, r *repo.Repository, opts Options) (*Report, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = r.Now
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0) + 1
	}
	d := &drill{
		r: r, opts: opts, now: opts.Now, evidence: opts.Evidence,
		owner: os.Geteuid() == 0, maxList: opts.MaxListed,
		restoreErr: map[string]error{}, failed: map[string]bool{},
	}
	if d.maxList <= 0 {
		d.maxList = 1000
	}
	if d.evidence == nil {
		d.evidence = r
	}
	d.tracker, _ = r.Storage().(*Tracker)
	if d.tracker != nil {
		d.tracker.Reset()
	}
	d.before = r.ReadStats()
	d.rep = newReport(opts, replicaNames(r))
	if opts.sampling() {
		// Past records steer the sample; reading them is drill overhead,
		// not part of the measured restore.
		recs, bad, err := LoadRecords(ctx, d.evidence)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			d.warn("past drill records could not be listed (the sample ignores them): %v", err)
		}
		for _, e := range bad {
			d.warn("skipped an unreadable drill record: %v", e)
		}
		d.records = recs
	}
	d.verifyHistory(ctx) // history.go
	err := d.run(ctx)
	if cerr := d.cleanup(); cerr != nil {
		d.warn("remove the scratch directory: %v", cerr)
	}
	if err != nil {
		return nil, err
	}
	return d.rep, nil
}

func newReport(opts Options, regions []string) *Report {
	rep := &Report{
		Name: opts.Name, Host: opts.Host, Regions: regions,
		Lost: slices.Clone(opts.Lose), Only: slices.Clone(opts.Only),
		Full: !opts.sampling(), SamplePercent: 100,
		RTOObjective: opts.RTO, RPOObjective: opts.RPO,
		Reads:      map[string]*repo.RegionReads{},
		Ransomware: opts.Ransomware,
		Warnings:   ransomwareWarnings(opts.Ransomware),
	}
	if opts.sampling() {
		rep.SamplePercent = opts.SamplePercent
	}
	return rep
}

// Unavailable returns the failed report of a drill that could not open the
// repository in its regions at all (err); store it with SaveReport.
func Unavailable(opts Options, regions []string, err error) *Report {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	rep := newReport(opts, regions)
	rep.Start = now().UTC()
	rep.End = rep.Start
	rep.Target = opts.Target
	rep.Failures = []Failure{{Kind: classify(err), Error: err.Error()}}
	rep.FailureCount = 1
	rep.Reasons = []Reason{{Code: ReasonUnavailable, Message: fmt.Sprintf("the regions %s could not serve the repository: %v", strings.Join(regions, ", "), err)}}
	return rep
}

// SaveReport stores rep as a record in evidence (with no coverage) and sets
// rep.Record or rep.RecordError.
func SaveReport(ctx context.Context, evidence *repo.Repository, rep *Report) {
	saveReport(ctx, evidence, rep, nil)
}

func saveReport(ctx context.Context, evidence *repo.Repository, rep *Report, coverage map[string][]format.ID) {
	copyRep := *rep
	copyRep.Record, copyRep.RecordError = "", ""
	rec := &Record{Version: RecordVersion, Kind: KindDrill, Time: rep.End, Host: rep.Host, Drill: &copyRep,
		Packs: rep.PacksTotal, Coverage: coverage}
	id, err := SaveRecord(ctx, evidence, rec)
	if err == nil || errors.Is(err, storage.ErrQuorum) {
		// Under the quorum, the record still reached some regions.
		rep.Record = repo.DrillName(id)
	}
	if err != nil {
		rep.RecordError = err.Error()
	}
}

func (d *drill) warn(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rep.Warnings = append(d.rep.Warnings, fmt.Sprintf(format, args...))
}

// replicaNames returns the regions r reads from, in preference order.
func replicaNames(r *repo.Repository) []string {
	rs := r.Storage().Capabilities().Regions
	if rs == nil {
		return []string{""}
	}
	var names []string
	for _, rep := range rs.Replicas() {
		names = append(names, rep.Region)
	}
	if len(names) == 0 {
		names = []string{""}
	}
	return names
}

func (d *drill) run(ctx context.Context) error {
	rep := d.rep
	start := d.now()
	d.startTime = start
	rep.Start = start.UTC()
	snap, err := d.findSnapshot(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, repo.ErrSnapshotNotFound) {
			d.noSnapshot = true
		} else {
			d.addFailure("", nil, err)
		}
		rep.End = d.now().UTC()
		rep.RTO = rep.End.Sub(rep.Start)
		d.finish(ctx)
		return nil
	}
	rep.Snapshot = snap.ID.String()
	rep.SnapshotTime = snap.Time.UTC()
	rep.Paths = slices.Clone(snap.Paths)
	rep.RPO = max(0, start.Sub(snap.Time))
	rep.PacksTotal = len(d.r.Index().Packs())
	if err := d.prepareTarget(); err != nil {
		return err
	}
	d.verifier = newVerifier(d.r, d.owner)
	if d.opts.sampling() {
		if err := d.sample(ctx, snap); err != nil {
			return err
		}
	}
	restoreStart := d.now()
	if err := d.restore(ctx, snap); err != nil {
		return err
	}
	unserved := unservedObjects(d.r.ReadStats())
	d.mu.Lock()
	d.unserved = unserved
	d.mu.Unlock()
	verifyStart := d.now()
	if err := d.verify(ctx, snap); err != nil {
		return err
	}
	end := d.now()
	rep.End = end.UTC()
	rep.RTO = end.Sub(start)
	rep.RestoreTime = verifyStart.Sub(restoreStart)
	rep.VerifyTime = end.Sub(verifyStart)
	if secs := rep.RTO.Seconds(); secs > 0 {
		rep.Throughput = float64(rep.Bytes) / secs
	}
	if d.opts.sampling() {
		setup := restoreStart.Sub(start)
		work := end.Sub(restoreStart)
		scale := 1.0
		if rep.SampledBytes > 0 {
			scale = float64(rep.BytesTotal) / float64(rep.SampledBytes)
		}
		rep.RTOExtrapolated = setup + time.Duration(float64(work)*scale)
	}
	if d.opts.Against != "" {
		rep.Drift = d.drift(ctx, snap)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	d.finish(ctx)
	return nil
}

func (d *drill) findSnapshot(ctx context.Context) (repo.SnapshotRef, error) {
	if err := d.r.LoadIndex(ctx); err != nil {
		return repo.SnapshotRef{}, fmt.Errorf("load index: %w", err)
	}
	sel := d.opts.Snapshot
	if sel == "" {
		sel = "latest"
	}
	return d.r.FindSnapshot(ctx, sel, d.opts.Filter)
}

// prepareTarget creates the scratch directory or checks that the given
// one is empty.
func (d *drill) prepareTarget() error {
	rep := d.rep
	if d.opts.Target == "" {
		dir, err := os.MkdirTemp("", "lifeboat-drill-")
		if err != nil {
			return fmt.Errorf("drill: scratch directory: %w", err)
		}
		d.target = dir
		rep.Target = dir
		rep.Kept = d.opts.Keep
		return nil
	}
	abs, err := filepath.Abs(d.opts.Target)
	if err != nil {
		return fmt.Errorf("drill: target: %w", err)
	}
	entries, err := os.ReadDir(abs)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(abs, 0o700); err != nil {
			return fmt.Errorf("drill: target: %w", err)
		}
	case err != nil:
		return fmt.Errorf("drill: target: %w", err)
	case len(entries) > 0:
		return fmt.Errorf("drill: target %s is not empty", abs)
	}
	d.target = abs
	rep.Target = abs
	rep.Kept = d.opts.Keep
	return nil
}

// cleanup removes what the drill restored unless Keep.
func (d *drill) cleanup() error {
	if d.target == "" {
		return nil
	}
	if d.opts.Keep {
		return nil
	}
	if d.opts.Target == "" {
		return removeTree(d.target)
	}
	entries, err := os.ReadDir(d.target)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := removeTree(filepath.Join(d.target, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// removeTree removes p, first making its directories writable (a restored
// directory may be read-only).
func removeTree(p string) error {
	_ = filepath.WalkDir(p, func(q string, de os.DirEntry, err error) error {
		if err == nil && de.IsDir() {
			_ = os.Chmod(q, 0o700)
		}
		return nil
	})
	return os.RemoveAll(p)
}

// restore runs the real restore of the snapshot (or of the sample).
func (d *drill) restore(ctx context.Context, snap repo.SnapshotRef) error {
	opts := restore.Options{
		Target:  d.target,
		Workers: d.opts.Workers,
		// The scratch tree is removed afterwards: no immutable entries.
		NoFlags:   true,
		SkipXattr: skipXattr(d.owner),
		OnError: func(p string, err error) {
			if !strings.HasPrefix(p, "/") {
				p = "/" + p // restore names some entries relative to the target
			}
			d.mu.Lock()
			if _, ok := d.restoreErr[p]; !ok {
				d.restoreErr[p] = err
			}
			d.mu.Unlock()
		},
	}
	if d.selected != nil {
		opts.Include = pathSet(d.selected)
	}
	_, err := restore.Run(ctx, d.r, snap.Snapshot, opts)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("drill: restore: %w", err)
	}
	return nil
}

// pathSet is a restore.Selector matching exactly its paths.
type pathSet map[string]bool

func (s pathSet) Excluded(p string) bool { return s[p] }

// addFailure records a failure of the entry at p (node may be nil), once
// per path.
func (d *drill) addFailure(p string, n *format.Node, err error) {
	kind := classify(err)
	f := Failure{Path: p, Kind: kind, Error: err.Error()}
	f.Objects, f.Regions = d.failedObjects(n, err)
	d.mu.Lock()
	defer d.mu.Unlock()
	if p != "" && d.failed[p] {
		return
	}
	d.failed[p] = true
	d.rep.FailureCount++
	if kind == KindUnavailable {
		d.nUnavail++
	}
	if len(d.rep.Failures) < d.maxList {
		d.rep.Failures = append(d.rep.Failures, f)
	}
}

// failedObjects names the stored objects behind a failure, and the regions
// that could not serve them: the object of an integrity error and the
// node's packs that no region served.
func (d *drill) failedObjects(n *format.Node, err error) (objects, regs []string) {
	d.mu.Lock()
	unserved := d.unserved
	d.mu.Unlock()
	if unserved == nil {
		unserved = unservedObjects(d.r.ReadStats())
	}
	var ie *repo.IntegrityError
	if errors.As(err, &ie) && ie.Object != "" {
		objects = append(objects, ie.Object)
	}
	if n != nil && n.Type == format.TypeFile {
		idx := d.r.Index()
		for _, id := range n.Content {
			if loc, ok := idx.Lookup(id); ok {
				name := format.PackName(loc.Pack.ID)
				if _, bad := unserved[name]; bad {
					objects = append(objects, name)
				}
			}
		}
	}
	slices.Sort(objects)
	objects = slices.Compact(objects)
	for _, o := range objects {
		regs = append(regs, unserved[o]...)
	}
	slices.Sort(regs)
	return objects, slices.Compact(regs)
}

// unservedObjects maps the objects no region could serve to the regions
// that failed them.
func unservedObjects(st repo.ReadStats) map[string][]string {
	out := map[string][]string{}
	for _, f := range st.Failovers {
		if f.Served == "" {
			out[f.Object] = append(out[f.Object], f.Region)
		}
	}
	return out
}

// classify sorts an error into a failure kind.
func classify(err error) string {
	var ie *repo.IntegrityError
	var mm *mismatchError
	switch {
	case errors.As(err, &mm):
		return KindMismatch
	case errors.As(err, &ie), errors.Is(err, restore.ErrVerify), errors.Is(err, format.ErrFormat):
		return KindIntegrity
	}
	for _, s := range []error{storage.ErrNotExist, storage.ErrTransient, storage.ErrPermission, storage.ErrInvalidRange,
		repo.ErrBlobNotFound, repo.ErrSnapshotNotFound, repo.ErrNoRepository, context.DeadlineExceeded, errUnavailable} {
		if errors.Is(err, s) {
			return KindUnavailable
		}
	}
	if errors.Is(err, storage.ErrUnavailable) {
		return KindUnavailable
	}
	return KindLocal
}

// errUnavailable marks errors the drill itself raises for data it could
// not get.
var errUnavailable = errors.New("data unavailable")

// finish computes the read statistics, coverage and verdict, and stores
// the record.
func (d *drill) finish(ctx context.Context) {
	rep := d.rep
	after := d.r.ReadStats()
	rep.Reads, rep.Failovers, rep.Repairs = diffStats(d.before, after)
	var coverage map[string][]format.ID
	if d.tracker != nil {
		coverage = d.coverage(rep.Failovers)
		rep.PacksRead = map[string]int{}
		for region, ids := range coverage {
			rep.PacksRead[region] = len(ids)
		}
	}
	d.judge()
	if !d.opts.NoRecord {
		saveReport(ctx, d.evidence, rep, coverage)
	}
}

// coverage returns, per region, the packs the region served during the
// drill without a failure of that region for them.
func (d *drill) coverage(failovers []repo.Failover) map[string][]format.ID {
	bad := map[string]map[string]bool{}
	for _, f := range failovers {
		if bad[f.Region] == nil {
			bad[f.Region] = map[string]bool{}
		}
		bad[f.Region][f.Object] = true
	}
	out := map[string][]format.ID{}
	for region, ids := range d.tracker.Served() {
		for _, id := range ids {
			if !bad[region][format.PackName(id)] {
				out[region] = append(out[region], id)
			}
		}
	}
	return out
}

// judge sets Passed and Reasons.
func (d *drill) judge() {
	rep := d.rep
	var verify, unavailable []Failure
	for _, f := range rep.Failures {
		if f.Kind == KindUnavailable {
			unavailable = append(unavailable, f)
		} else {
			verify = append(verify, f)
		}
	}
	nUnavail := d.nUnavail
	nVerify := rep.FailureCount - nUnavail
	first := func(list []Failure) string {
		if len(list) == 0 {
			return "" // all of them beyond the listed failures
		}
		return "; first: " + describe(list[0])
	}
	if nVerify > 0 {
		rep.Reasons = append(rep.Reasons, Reason{Code: ReasonVerify,
			Message: fmt.Sprintf("%d %s failed to restore or verify%s", nVerify, plural(nVerify, "entry", "entries"), first(verify))})
	}
	if nUnavail > 0 {
		rep.Reasons = append(rep.Reasons, Reason{Code: ReasonUnavailable,
			Message: fmt.Sprintf("the regions %s could not serve the data of %d %s%s", strings.Join(rep.Regions, ", "), nUnavail, plural(nUnavail, "entry", "entries"), first(unavailable))})
	}
	if d.noSnapshot {
		rep.Reasons = append(rep.Reasons, Reason{Code: ReasonNoSnapshot,
			Message: fmt.Sprintf("no snapshot matches %s in the regions %s: nothing to drill", selection(d.opts), strings.Join(rep.Regions, ", "))})
	}
	if rep.Snapshot != "" {
		rto, what := rep.RTO, "RTO"
		if !rep.Full {
			rto, what = rep.RTOExtrapolated, "RTO extrapolated to the whole snapshot"
		}
		if o := d.opts.RTO; o > 0 && rto > o {
			rep.Reasons = append(rep.Reasons, Reason{Code: ReasonRTO, Message: fmt.Sprintf("%s %v exceeds the objective %v", what, rto.Round(time.Millisecond), o)})
		}
		if o := d.opts.RPO; o > 0 && rep.RPO > o {
			rpo := rep.RPO.Round(time.Second)
			if rep.RPO < time.Minute {
				rpo = rep.RPO.Round(time.Millisecond)
			}
			rep.Reasons = append(rep.Reasons, Reason{Code: ReasonRPO, Message: fmt.Sprintf("RPO %v (snapshot of %s) exceeds the objective %v",
				rpo, rep.SnapshotTime.Format(time.RFC3339), o)})
		}
	}
	rep.Passed = len(rep.Reasons) == 0
}

func describe(f Failure) string {
	s := f.Path
	if s == "" {
		s = "(repository)"
	}
	s += ": " + f.Error
	if len(f.Regions) > 0 {
		s += " (region " + strings.Join(f.Regions, ", ") + ")"
	}
	return s
}

// selection describes the snapshot a drill looks for.
func selection(o Options) string {
	sel := o.Snapshot
	if sel == "" {
		sel = "latest"
	}
	desc := fmt.Sprintf("%q", sel)
	var with []string
	if f := o.Filter; sel == "latest" {
		if len(f.Paths) > 0 {
			with = append(with, "paths "+strings.Join(f.Paths, " "))
		}
		if len(f.Tags) > 0 {
			with = append(with, "tags "+strings.Join(f.Tags, ","))
		}
		if f.Host != "" {
			with = append(with, "host "+f.Host)
		}
	}
	if len(with) > 0 {
		desc += " with " + strings.Join(with, ", ")
	}
	return desc
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// diffStats returns what happened between two read statistics of the same
// repository.
func diffStats(before, after repo.ReadStats) (map[string]*repo.RegionReads, []repo.Failover, []repo.Repair) {
	reads := map[string]*repo.RegionReads{}
	for region, a := range after.Regions {
		c := *a
		if b := before.Regions[region]; b != nil {
			c.Objects -= b.Objects
			c.Bytes -= b.Bytes
			c.Errors -= b.Errors
		}
		if c != (repo.RegionReads{}) {
			reads[region] = &c
		}
	}
	type fkey struct{ object, region, reason string }
	seen := map[fkey]int{}
	for _, f := range before.Failovers {
		seen[fkey{f.Object, f.Region, f.Reason}]++
	}
	var failovers []repo.Failover
	for _, f := range after.Failovers {
		k := fkey{f.Object, f.Region, f.Reason}
		if seen[k] > 0 {
			seen[k]--
			continue
		}
		failovers = append(failovers, f)
	}
	rseen := map[repo.Repair]int{}
	for _, r := range before.Repairs {
		rseen[r]++
	}
	var repairs []repo.Repair
	for _, r := range after.Repairs {
		if rseen[r] > 0 {
			rseen[r]--
			continue
		}
		repairs = append(repairs, r)
	}
	return reads, failovers, repairs
}

// walkTree calls fn for every node below the tree id (snapshot path dir),
// depth first in name order; a tree that cannot be loaded is passed to
// onErr with its path and its subtree skipped.
func walkTree(ctx context.Context, r *repo.Repository, id format.ID, dir string, fn func(p string, n *format.Node) error, onErr func(p string, err error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t, err := r.LoadTree(ctx, id)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		onErr(dir, err)
		return nil
	}
	for i := range t.Nodes {
		n := &t.Nodes[i]
		if !format.ValidName(n.Name) {
			continue // restore reports it
		}
		p := path.Join(dir, n.Name)
		if err := fn(p, n); err != nil {
			return err
		}
		if n.Type == format.TypeDir && n.Subtree != nil {
			if err := walkTree(ctx, r, *n.Subtree, p, fn, onErr); err != nil {
				return err
			}
		}
	}
	return nil
}

// sortedKeys returns the keys of m, sorted.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
