package formatv4

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// GCPrefix holds the garbage-collection records of prune (format version 4
// on): gc/<generation>, the generation as 20 decimal digits.
const GCPrefix = "gc/"

// GCRecordVersion is the version of the GC record encoding.
const GCRecordVersion = 1

// MaxGCRecordSize bounds a sealed GC record's plaintext (a prune that
// condemns millions of packs still fits: 32 bytes of hex per ID and some).
const MaxGCRecordSize = 256 << 20

// The states of a GC record. A prune writes generation n "marked" when it
// decided what to delete, n+1 "sweeping" once the grace period has passed
// and deletion starts, and n+2 "swept" when every region is done (the
// records of one prune run share its RunID).
const (
	GCMarked   = "marked"
	GCSweeping = "sweeping"
	GCSwept    = "swept"
)

// GCRecord is one generation of prune's record of what it condemned. It is
// sealed like a snapshot and written with a conditional create under
// GCName(Generation), so two prunes never write the same generation.
//
// Backups read the records (FORMAT.md): they never reuse data in
// Condemned packs (unless the record's run superseded them with a later
// generation naming the packs in Rescued), and they refuse to commit a
// snapshot once a record they did not see at their start is sweeping or
// swept.
type GCRecord struct {
	Version    int    `json:"version"`
	Generation uint64 `json:"generation"`
	// RunID identifies the prune run (random hex); its generations share it.
	RunID string `json:"run_id"`
	State string `json:"state"`
	// Marked is the storage time at which the run decided (the newest
	// modification time its regions reported for a probe write).
	Marked time.Time `json:"marked"`
	// GraceSeconds is how long after Marked deletion may start.
	GraceSeconds int64  `json:"grace_seconds"`
	Host         string `json:"host,omitempty"`
	// Snapshots are the snapshots live when the run decided.
	Snapshots []ID `json:"snapshots"`
	// Condemned are the packs to delete, sorted, unique.
	Condemned []ID `json:"condemned"`
	// Superseded are the index objects the run's new index replaces,
	// sorted, unique; NewIndex are the index objects that replace them.
	Superseded []ID `json:"superseded"`
	NewIndex   []ID `json:"new_index"`
	// Rescued are condemned packs a later generation of the run kept
	// after all (a new snapshot needs them), sorted, unique.
	Rescued []ID `json:"rescued,omitempty"`
	// Pending names the regions not swept yet (state sweeping).
	Pending []string `json:"pending,omitempty"`
}

// Grace returns the record's grace period.
func (g *GCRecord) Grace() time.Duration { return time.Duration(g.GraceSeconds) * time.Second }

// GCName is the object name of generation gen.
func GCName(gen uint64) string { return fmt.Sprintf("%s%020d", GCPrefix, gen) }

// ParseGCName returns the generation of a GC record's name.
func ParseGCName(name string) (uint64, error) {
	rest, ok := strings.CutPrefix(name, GCPrefix)
	if !ok || len(rest) != 20 {
		return 0, fmt.Errorf("%q is not a gc record name: %w", name, ErrFormat)
	}
	gen, err := strconv.ParseUint(rest, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a gc record name: %w", name, ErrFormat)
	}
	return gen, nil
}

// EncodeGCRecord encodes a GC record as JSON.
func EncodeGCRecord(g *GCRecord) ([]byte, error) { return json.Marshal(g) }

// DecodeGCRecord strictly decodes and validates a GC record.
func DecodeGCRecord(data []byte) (*GCRecord, error) {
	var g GCRecord
	if err := decodeJSON("gc record", data, MaxGCRecordSize, &g); err != nil {
		return nil, err
	}
	switch {
	case g.Version > GCRecordVersion:
		return nil, &VersionError{Object: "gc record", Version: g.Version}
	case g.Version < 1:
		return nil, formatErr("gc record", "version %d", g.Version)
	case g.RunID == "":
		return nil, formatErr("gc record", "no run id")
	case g.State != GCMarked && g.State != GCSweeping && g.State != GCSwept:
		return nil, formatErr("gc record", "state %q", g.State)
	case g.Marked.IsZero():
		return nil, formatErr("gc record", "no mark time")
	case g.GraceSeconds < 0:
		return nil, formatErr("gc record", "negative grace %d", g.GraceSeconds)
	}
	for _, l := range []struct {
		what string
		ids  []ID
	}{{"condemned", g.Condemned}, {"superseded", g.Superseded}, {"new_index", g.NewIndex}, {"rescued", g.Rescued}} {
		if !slices.IsSortedFunc(l.ids, compareIDs) || len(slices.CompactFunc(slices.Clone(l.ids), func(a, b ID) bool { return a == b })) != len(l.ids) {
			return nil, formatErr("gc record", "%s not sorted or not unique", l.what)
		}
	}
	return &g, nil
}

func compareIDs(a, b ID) int { return bytes.Compare(a[:], b[:]) }
