package regions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"lifeboat/storage"
)

// Down returns the storage of a region that could not be opened (it did
// not answer, or refused the configured credentials): every operation
// fails with err, marked transient so that it counts as a failure of the
// region, not of the object. Its Capabilities claim ConditionalCreate, so
// that the set's combined capabilities are those of the regions that
// opened. The set recognises such regions: see Set.Down and
// Set.CheckWriteQuorum.
func Down(err error) storage.Storage { return &down{err: err} }

// down is a region that could not be opened.
type down struct{ err error }

func (d *down) fail() error { return storage.MarkTransient(d.err) }

func (d *down) Get(context.Context, string, int64, int64) (io.ReadCloser, error) {
	return nil, d.fail()
}
func (d *down) Stat(context.Context, string) (storage.Info, error) {
	return storage.Info{}, d.fail()
}
func (d *down) List(context.Context, string, func(storage.Info) error) error { return d.fail() }
func (d *down) Put(context.Context, string, io.ReadSeeker, int64, storage.PutOptions) error {
	return d.fail()
}
func (d *down) Delete(context.Context, string) error { return d.fail() }
func (d *down) Capabilities() storage.Capabilities {
	return storage.Capabilities{ConditionalCreate: true}
}
func (d *down) Close() error { return nil }

// RegionError is one region's reason for being unavailable.
type RegionError struct {
	Region string
	Err    error
}

// Down returns the regions built with Down, in configuration order, each
// with the error it was opened with.
func (s *Set) Down() []RegionError {
	var out []RegionError
	for _, r := range s.regions {
		if d, ok := r.st.(*down); ok {
			out = append(out, RegionError{Region: r.name, Err: d.err})
		}
	}
	return out
}

// QuorumError reports that fewer regions opened than the write quorum
// needs, so no write can succeed. It wraps ErrQuorum, and storage.ErrConfig
// when some region is down because of its configuration; it is never
// transient, even when the regions' errors are.
type QuorumError struct {
	// Quorum is the write quorum; Open counts the regions that opened.
	Quorum, Open int
	// Down are the regions that did not open, with their errors.
	Down []RegionError
}

func (e *QuorumError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v: %d region(s) must accept every write and only %d of %d opened", ErrQuorum, e.Quorum, e.Open, e.Open+len(e.Down))
	for _, d := range e.Down {
		fmt.Fprintf(&b, "; region %s: %v", d.Region, d.Err)
	}
	return b.String()
}

func (e *QuorumError) Unwrap() []error {
	for _, d := range e.Down {
		if errors.Is(d.Err, storage.ErrConfig) {
			return []error{ErrQuorum, storage.ErrConfig}
		}
	}
	return []error{ErrQuorum}
}

// CheckWriteQuorum fails with a *QuorumError when fewer regions opened
// (were not built with Down) than the write quorum, so that a writer can
// refuse before writing anything rather than filling the regions that did
// open with objects no commit will name.
func (s *Set) CheckWriteQuorum() error {
	down := s.Down()
	if open := len(s.regions) - len(down); open < s.quorum {
		return &QuorumError{Quorum: s.quorum, Open: open, Down: down}
	}
	return nil
}
