package regions

import (
	"context"
	"fmt"
	"io"
	"strings"

	"lifeboat/storage"
)

// WriteQuorum returns how many regions must accept a write.
func (s *Set) WriteQuorum() int { return s.quorum }

// Lagging returns, in configuration order, the regions that are missing at
// least one object written through the set: a Put (or PutOnly) of it failed
// in the region, or PutOnly left the region out, and no later write or
// delete of the same name succeeded there (the names are those of Behind;
// a region whose record overflowed stays lagging). The others hold every
// object the set has written since it was created, so a commit object
// (a snapshot) written to them references nothing they lack. Regions that
// were behind before the set was created (an earlier process) are not
// known here: that is what `lifeboat sync` repairs.
func (s *Set) Lagging() []string {
	var out []string
	for _, r := range s.regions {
		r.mu.Lock()
		if len(r.behind) > 0 || r.overflow > 0 {
			out = append(out, r.name)
		}
		r.mu.Unlock()
	}
	return out
}

// PutOnly writes name to the named regions only, with the rules of Put
// (conditional creates included: the arbiter is the first of the named
// regions in static order) and the write quorum enforced over them: it
// fails with ErrQuorum, writing nothing, when fewer than WriteQuorum
// regions are named, and fails like Put when fewer than WriteQuorum of them
// accept the object. Names may repeat; an unknown name fails with
// ErrUnknownRegion before anything is written. When the write succeeds, the
// regions left out are recorded as behind on name (see Behind and Lagging),
// as are the named regions that failed.
//
// Commit points use it: a snapshot goes only to the regions that hold
// every object it references (those not in Lagging).
func (s *Set) PutOnly(ctx context.Context, names []string, name string, r io.ReadSeeker, size int64, opt storage.PutOptions) error {
	want := map[string]bool{}
	for _, n := range names {
		if _, ok := s.byName[n]; !ok {
			return fmt.Errorf("regions put %s to region %q: %w", name, n, ErrUnknownRegion)
		}
		want[n] = true
	}
	var regs, left []*region
	for _, reg := range s.static {
		if want[reg.name] {
			regs = append(regs, reg)
		} else {
			left = append(left, reg)
		}
	}
	if len(regs) < s.quorum {
		return fmt.Errorf("regions put %s: %d region(s) named (%s), need %d: %w",
			name, len(regs), strings.Join(regionNames(regs), ", "), s.quorum, ErrQuorum)
	}
	if err := s.put(ctx, regs, name, r, size, opt); err != nil {
		return err
	}
	for _, reg := range left {
		reg.markBehind(name)
	}
	return nil
}

func regionNames(regs []*region) []string {
	out := make([]string, len(regs))
	for i, r := range regs {
		out[i] = r.name
	}
	return out
}
