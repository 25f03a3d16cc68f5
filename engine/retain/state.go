package retain

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"lifeboat/engine/format"
	"lifeboat/storage"
)

// StateVersion is the version of the state objects this package writes.
const StateVersion = 1

// maxStateSize bounds a state object LoadState accepts (about 80 bytes
// per covered snapshot).
const maxStateSize = 16 << 20

// State records a region's last complete lock extension. It is stored
// unencrypted as JSON under the mutable state/ prefix (never locked): it
// reveals a region name, a host name, times and snapshot IDs.
type State struct {
	Version int    `json:"version"`
	Region  string `json:"region"`
	// Time is when the extension started; every object it extended is
	// retained until at least Until = Time + Period.
	Time   time.Time     `json:"time"`
	Until  time.Time     `json:"until"`
	Mode   string        `json:"mode"`
	Period time.Duration `json:"period_ns"`
	Host   string        `json:"host,omitempty"`
	// Snapshots are the kept snapshots whose objects were extended.
	Snapshots []format.ID `json:"snapshots"`
}

// StateName is the object name of region's state ("" names the only
// region of a plain storage).
func StateName(region string) string {
	if region == "" {
		return "state/lock"
	}
	return "state/lock-" + region
}

// SaveState stores st in st.Region's storage rs.
func SaveState(ctx context.Context, rs storage.Storage, st *State) error {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode lock state: %w", err)
	}
	if err := storage.PutBytes(ctx, rs, StateName(st.Region), data, storage.PutOptions{}); err != nil {
		return fmt.Errorf("save lock state: %w", err)
	}
	return nil
}

// LoadState reads region's state from its storage rs; (nil, nil) when no
// extension was recorded there.
func LoadState(ctx context.Context, rs storage.Reader, region string) (*State, error) {
	body, err := rs.Get(ctx, StateName(region), 0, maxStateSize+1)
	if errors.Is(err, storage.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read lock state: %w", err)
	}
	defer body.Close()
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, fmt.Errorf("read lock state: %w", err)
	}
	if len(data) > maxStateSize {
		return nil, fmt.Errorf("lock state: larger than %d bytes", maxStateSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var st State
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("decode lock state: %w", err)
	}
	if st.Version != StateVersion || st.Region != region || st.Until.IsZero() {
		return nil, fmt.Errorf("lock state of region %q: version %d, region %q: not a state this release wrote", region, st.Version, st.Region)
	}
	return &st, nil
}

// Protection is a region's protection summary.
type Protection struct {
	// ProtectedUntil is the last extension's retain-until (zero: none
	// recorded).
	ProtectedUntil time.Time `json:"protected_until,omitzero"`
	// LastExtend is when the last complete extension started.
	LastExtend time.Time `json:"last_extend,omitzero"`
	// OldestUnprotected is the oldest snapshot not known to be fully
	// protected ("" when every snapshot is).
	OldestUnprotected string `json:"oldest_unprotected,omitempty"`
	// OldestUnprotectedTime is that snapshot object's modification time.
	OldestUnprotectedTime time.Time `json:"oldest_unprotected_time,omitzero"`
	// Unprotected counts the snapshots not known to be fully protected.
	Unprotected int `json:"unprotected"`
}

// Unprotected summarises a region's protection from its state (nil: no
// extension recorded) and its snapshot listing (names and modification
// times; no key needed). A snapshot is known protected when the last
// extension covered it and its retain-until is after now; the oldest
// other one (by modification time) is reported.
func Unprotected(st *State, snapshots []storage.Info, now time.Time) Protection {
	var p Protection
	covered := map[string]bool{}
	if st != nil {
		p.ProtectedUntil, p.LastExtend = st.Until, st.Time
		if now.Before(st.Until) {
			for _, id := range st.Snapshots {
				covered[format.SnapshotName(id)] = true
			}
		}
	}
	for _, s := range snapshots {
		if covered[s.Name] {
			continue
		}
		p.Unprotected++
		if p.OldestUnprotected == "" || s.ModTime.Before(p.OldestUnprotectedTime) {
			p.OldestUnprotected, p.OldestUnprotectedTime = s.Name, s.ModTime
		}
	}
	return p
}

// RetryAt says when a deletion refused because the object is retained
// (err wraps a *storage.RetainedError) may be tried again: the retention's
// end, or now plus the region's period when the server did not report it
// (a noncurrent version, a legal hold). false when err is not a retained
// refusal. Prune skips such objects and retries them then.
func RetryAt(err error, now time.Time, period time.Duration) (time.Time, bool) {
	var re *storage.RetainedError
	if !errors.As(err, &re) {
		return time.Time{}, false
	}
	if re.Until.IsZero() {
		return now.Add(period), true
	}
	return re.Until, true
}
