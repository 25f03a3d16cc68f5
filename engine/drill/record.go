package drill

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"
	"time"

	"lifeboat/engine/format"
	"lifeboat/engine/repo"
)

// Record kinds.
const (
	// KindDrill is the record of a restore drill (Record.Drill is set).
	KindDrill = "drill"
	// KindCheck is the record of `check --read-data[-subset]`: only the
	// packs it verified.
	KindCheck = "check"
)

// RecordVersion is the version of the record format this package writes
// and the highest it reads.
const RecordVersion = 1

// MaxRecordSize bounds the plaintext of a record.
const MaxRecordSize = 64 << 20

// ErrRecord marks a stored record that does not decode.
var ErrRecord = errors.New("malformed drill record")

// Record is the evidence a drill or a data check leaves in the repository
// (FORMAT.md section 11), sealed as repo.DrillName(id).
type Record struct {
	// Version is RecordVersion.
	Version int `json:"version"`
	// Kind is KindDrill or KindCheck.
	Kind string `json:"kind"`
	// Time is when the drill or check ended.
	Time time.Time `json:"time"`
	// Host ran it.
	Host string `json:"host,omitempty"`
	// Drill is the drill's report (KindDrill only).
	Drill *Report `json:"drill,omitempty"`
	// Packs is the number of packs the index held.
	Packs int `json:"packs"`
	// Coverage lists, per region, the packs read from that region whose
	// data verified, sorted.
	Coverage map[string][]format.ID `json:"coverage,omitempty"`

	// ID is the record's object ID (set by LoadRecords and SaveRecord).
	ID format.ID `json:"-"`
}

// EncodeRecord encodes rec as JSON.
func EncodeRecord(rec *Record) ([]byte, error) {
	if err := rec.validate(); err != nil {
		return nil, err
	}
	return json.Marshal(rec)
}

// DecodeRecord strictly decodes a record: unknown fields, trailing data, an
// unknown version or kind, a missing time, or more than MaxRecordSize
// bytes are errors wrapping ErrRecord.
func DecodeRecord(data []byte) (*Record, error) {
	if len(data) > MaxRecordSize {
		return nil, fmt.Errorf("decode drill record: %d bytes exceeds %d: %w", len(data), MaxRecordSize, ErrRecord)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var rec Record
	if err := dec.Decode(&rec); err != nil {
		return nil, fmt.Errorf("decode drill record: %w: %w", ErrRecord, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("decode drill record: trailing data: %w", ErrRecord)
	}
	if err := rec.validate(); err != nil {
		return nil, err
	}
	return &rec, nil
}

func (rec *Record) validate() error {
	bad := func(msg string, args ...any) error {
		return fmt.Errorf("drill record: %s: %w", fmt.Sprintf(msg, args...), ErrRecord)
	}
	switch {
	case rec.Version != RecordVersion:
		return bad("version %d", rec.Version)
	case rec.Time.IsZero():
		return bad("no time")
	case rec.Packs < 0:
		return bad("negative pack count")
	case rec.Kind == KindDrill && rec.Drill == nil:
		return bad("a drill record without its report")
	case rec.Kind == KindCheck && rec.Drill != nil:
		return bad("a check record with a drill report")
	case rec.Kind != KindDrill && rec.Kind != KindCheck:
		return bad("unknown kind %q", rec.Kind)
	}
	return nil
}

// SaveRecord stores rec in r (in every region of a region set) and sets
// rec.ID. An error wrapping storage.ErrQuorum means fewer regions than the
// write quorum accepted it.
func SaveRecord(ctx context.Context, r *repo.Repository, rec *Record) (format.ID, error) {
	plain, err := EncodeRecord(rec)
	if err != nil {
		return format.ID{}, err
	}
	id, err := r.SaveDrillRecord(ctx, plain)
	if err != nil {
		return id, err
	}
	rec.ID = id
	return id, nil
}

// LoadRecords reads every record of r, oldest first. Records that cannot
// be read or decoded are skipped and returned in bad; err is set only when
// the records cannot be listed.
func LoadRecords(ctx context.Context, r *repo.Repository) (recs []*Record, bad []error, err error) {
	ids, err := r.ListDrillRecords(ctx)
	if err != nil {
		return nil, nil, err
	}
	out := make([]*Record, len(ids))
	errs := make([]error, len(ids))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			plain, err := r.LoadDrillRecord(ctx, id)
			if err == nil {
				out[i], err = DecodeRecord(plain)
			}
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", repo.DrillName(id), err)
				return
			}
			out[i].ID = id
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	for i := range ids {
		if errs[i] != nil {
			bad = append(bad, errs[i])
		} else {
			recs = append(recs, out[i])
		}
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Time.Before(recs[j].Time) })
	return recs, bad, nil
}

// History returns the drill records among recs (oldest first).
func History(recs []*Record) []*Record {
	var out []*Record
	for _, rec := range recs {
		if rec.Kind == KindDrill {
			out = append(out, rec)
		}
	}
	return out
}

// LastRead returns, for region, when each pack was last read and verified
// there according to recs.
func LastRead(recs []*Record, region string) map[format.ID]time.Time {
	last := map[format.ID]time.Time{}
	for _, rec := range recs {
		for _, id := range rec.Coverage[region] {
			if t, ok := last[id]; !ok || rec.Time.After(t) {
				last[id] = rec.Time
			}
		}
	}
	return last
}

// LastReadByRegion returns LastRead for every region recs name.
func LastReadByRegion(recs []*Record) map[string]map[format.ID]time.Time {
	out := map[string]map[format.ID]time.Time{}
	for _, rec := range recs {
		for region := range rec.Coverage {
			if _, ok := out[region]; !ok {
				out[region] = LastRead(recs, region)
			}
		}
	}
	return out
}

// RegionCoverage is the share of a region's packs read recently.
type RegionCoverage struct {
	Region string `json:"region"`
	// Packs is the number of packs in the index.
	Packs int `json:"packs"`
	// Read is how many of them were read and verified in the region
	// since the cut-off.
	Read int `json:"read"`
	// Share is Read/Packs (1 when there are no packs).
	Share float64 `json:"share"`
}

// Coverage returns, for each region, the share of packs that records since
// the given time read and verified there.
func Coverage(recs []*Record, packs []format.ID, regionNames []string, since time.Time) []RegionCoverage {
	out := make([]RegionCoverage, 0, len(regionNames))
	for _, region := range regionNames {
		read := map[format.ID]bool{}
		for _, rec := range recs {
			if rec.Time.Before(since) {
				continue
			}
			for _, id := range rec.Coverage[region] {
				read[id] = true
			}
		}
		c := RegionCoverage{Region: region, Packs: len(packs), Share: 1}
		for _, p := range packs {
			if read[p] {
				c.Read++
			}
		}
		if c.Packs > 0 {
			c.Share = float64(c.Read) / float64(c.Packs)
		}
		out = append(out, c)
	}
	return out
}

// CheckRecord builds the record of a data check: verified lists, per
// region, the packs whose copy in that region the check read and verified
// (regions it did not read are absent). packs is the number of packs in
// the index.
func CheckRecord(now time.Time, host string, verified map[string][]format.ID, packs int) *Record {
	cov := map[string][]format.ID{}
	for region, ids := range verified {
		if len(ids) == 0 {
			continue
		}
		c := slices.Clone(ids)
		slices.SortFunc(c, cmpID)
		cov[region] = slices.Compact(c)
	}
	return &Record{Version: RecordVersion, Kind: KindCheck, Time: now.UTC(), Host: host, Packs: packs, Coverage: cov}
}
