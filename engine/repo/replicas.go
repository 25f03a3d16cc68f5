package repo

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"sync"

	"lifeboat/engine/format"
	"lifeboat/storage"
)

// ReadStats tells which regions served the reads of a session and what went
// wrong where. Region is "" for a storage that is not a region set.
type ReadStats struct {
	Regions   map[string]*RegionReads `json:"regions"`
	Failovers []Failover              `json:"failovers,omitempty"`
	Repairs   []Repair                `json:"repairs,omitempty"`
}

// RegionReads counts the objects a region served.
type RegionReads struct {
	Objects int64 `json:"objects"`
	Bytes   int64 `json:"bytes"`
	Errors  int64 `json:"errors"`
}

// Failover records one object that a region could not serve correctly and
// where it was read instead ("" when no region could).
type Failover struct {
	Object string `json:"object"`
	Region string `json:"region"`
	Reason string `json:"reason"`
	Served string `json:"served_by"`
}

// Repair records a bad copy rewritten from a good region.
type Repair struct {
	Object string `json:"object"`
	Region string `json:"region"`
	From   string `json:"from"`
	Err    string `json:"error,omitempty"`
}

// maxRecorded bounds the failovers and repairs kept in memory.
const maxRecorded = 10000

type readTracker struct {
	mu    sync.Mutex
	stats ReadStats
}

func (t *readTracker) served(region string, bytes int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rr := t.region(region)
	rr.Objects++
	rr.Bytes += bytes
}

func (t *readTracker) region(region string) *RegionReads {
	if t.stats.Regions == nil {
		t.stats.Regions = map[string]*RegionReads{}
	}
	rr := t.stats.Regions[region]
	if rr == nil {
		rr = &RegionReads{}
		t.stats.Regions[region] = rr
	}
	return rr
}

func (t *readTracker) failed(object, region string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.region(region).Errors++
	if len(t.stats.Failovers) < maxRecorded {
		t.stats.Failovers = append(t.stats.Failovers, Failover{Object: object, Region: region, Reason: err.Error()})
	}
}

// resolved notes which region finally served the object failed elsewhere.
func (t *readTracker) resolved(object, served string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range t.stats.Failovers {
		if t.stats.Failovers[i].Object == object && t.stats.Failovers[i].Served == "" {
			t.stats.Failovers[i].Served = served
		}
	}
}

func (t *readTracker) repaired(rep Repair) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.stats.Repairs) < maxRecorded {
		t.stats.Repairs = append(t.stats.Repairs, rep)
	}
}

// ReadStats returns a copy of the read statistics so far.
func (r *Repository) ReadStats() ReadStats {
	t := &r.reads
	t.mu.Lock()
	defer t.mu.Unlock()
	out := ReadStats{Regions: map[string]*RegionReads{}}
	for k, v := range t.stats.Regions {
		c := *v
		out.Regions[k] = &c
	}
	out.Failovers = append(out.Failovers, t.stats.Failovers...)
	out.Repairs = append(out.Repairs, t.stats.Repairs...)
	sort.Slice(out.Failovers, func(i, j int) bool { return out.Failovers[i].Object < out.Failovers[j].Object })
	return out
}

// regionsOf returns the region set behind st (Capabilities().Regions,
// which wrappers keep), or nil for a storage that is not one.
func regionsOf(st storage.Reader) storage.RegionSet { return st.Capabilities().Regions }

// replicas returns the readers to try for an object, in preference order:
// the regions of a region set, or the storage itself.
func (r *Repository) replicas() []storage.Replica {
	if rs := regionsOf(r.st); rs != nil && !r.noFailover {
		if reps := rs.Replicas(); len(reps) > 0 {
			return reps
		}
	}
	return []storage.Replica{{Region: "", Reader: r.st}}
}

// withReplicas runs read against each replica in turn until it succeeds.
// A failure of the content (hash, authentication, decoding) is reported to
// the region set as bad content; every failure is recorded as a failover.
// With repair enabled, the copies that failed are rewritten from the region
// that served the object, after verifying it by its hash name.
func (r *Repository) withReplicas(ctx context.Context, object string, read func(rep storage.Replica) error) error {
	var errs []error
	var bad []string
	for _, rep := range r.replicas() {
		err := read(rep)
		if err == nil {
			if len(bad) > 0 {
				r.reads.resolved(object, rep.Region)
				r.repairFrom(ctx, object, rep, bad)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.reads.failed(object, rep.Region, err)
		if rs := regionsOf(r.st); rs != nil {
			var ie *IntegrityError
			if errors.As(err, &ie) {
				rs.ReportBad(rep.Region, object, err)
			}
		}
		bad = append(bad, rep.Region)
		if rep.Region != "" {
			err = fmt.Errorf("region %s: %w", rep.Region, err)
		}
		errs = append(errs, err)
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// repairFrom copies object from the good replica to the regions in bad.
// Only objects named by their hash are repaired (their bytes can be checked
// without keys).
func (r *Repository) repairFrom(ctx context.Context, object string, good storage.Replica, bad []string) {
	rs := regionsOf(r.st)
	if rs == nil || !r.repair {
		return
	}
	id, err := hashOfName(object)
	if err != nil {
		return
	}
	data, readErr := storage.ReadAll(ctx, good.Reader, object)
	if readErr == nil && format.ID(sha256.Sum256(data)) != id {
		readErr = fmt.Errorf("copy in %s: %w", good.Region, ErrHashMismatch)
	}
	for _, region := range bad {
		rep := Repair{Object: object, Region: region, From: good.Region}
		err := readErr
		if err == nil {
			err = rs.Repair(ctx, region, object, data)
		}
		if err != nil {
			rep.Err = err.Error()
		}
		r.reads.repaired(rep)
	}
}

// hashOfName returns the SHA-256 an object's name promises.
func hashOfName(name string) (format.ID, error) {
	for _, p := range []string{format.DataPrefix, format.IndexPrefix, format.SnapshotPrefix, format.KeysPrefix} {
		if id, err := format.ParseName(p, name); err == nil {
			return id, nil
		}
	}
	return format.ID{}, fmt.Errorf("%s is not content-addressed", name)
}

// SetRepair makes reads rewrite bad or missing copies in other regions
// from the region that served a verified copy.
func (r *Repository) SetRepair(on bool) { r.repair = on }

// DisableFailover makes every read use the storage as a whole (tests).
func (r *Repository) DisableFailover() { r.noFailover = true }
