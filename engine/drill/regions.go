package drill

import (
	"errors"
	"fmt"
	"slices"
	"strings"
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
