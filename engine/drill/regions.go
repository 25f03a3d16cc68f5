package drill

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"lifeboat/storage/regions"
)

// ErrRegions reports a Lose or Only list that names no usable set of
// regions: an unknown region, both lists at once, or every region lost.
var ErrRegions = errors.New("invalid drill regions")

// Keep returns the names of the regions a drill may read: all of names
// except those in lose, or only those in only (at most one of the two may
// be given), in the order of names.
func Keep(names, lose, only []string) ([]string, error) {
	if len(lose) > 0 && len(only) > 0 {
		return nil, fmt.Errorf("%w: lose and only exclude each other", ErrRegions)
	}
	for _, list := range [][]string{lose, only} {
		for _, n := range list {
			if !slices.Contains(names, n) {
				return nil, fmt.Errorf("%w: unknown region %q (have %s)", ErrRegions, n, strings.Join(names, ", "))
			}
		}
	}
	var keep []string
	for _, n := range names {
		switch {
		case len(only) > 0 && !slices.Contains(only, n):
		case slices.Contains(lose, n):
		default:
			keep = append(keep, n)
		}
	}
	if len(keep) == 0 {
		return nil, fmt.Errorf("%w: a drill cannot lose every region", ErrRegions)
	}
	return keep, nil
}

// SelectRegions returns the members of all a drill may read (see Keep),
// for building the region set of the drill: exactly the set a real restore
// would have after losing the other regions.
func SelectRegions(all []regions.Region, lose, only []string) ([]regions.Region, error) {
	names := make([]string, len(all))
	for i, r := range all {
		names[i] = r.Name
	}
	keep, err := Keep(names, lose, only)
	if err != nil {
		return nil, err
	}
	var out []regions.Region
	for _, r := range all {
		if slices.Contains(keep, r.Name) {
			out = append(out, r)
		}
	}
	return out, nil
}
