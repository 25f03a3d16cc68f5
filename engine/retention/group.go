package retention

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidGroupBy is wrapped by errors about a malformed GroupBy.
var ErrInvalidGroupBy = errors.New("invalid group-by")

// GroupBy selects the snapshot fields whose equal values form a group;
// the policy runs on each group on its own. The zero value is the default,
// host and paths. GroupNone puts every snapshot in one group.
type GroupBy uint8

// The GroupBy fields. Combine GroupHost, GroupPaths and GroupTags with |.
const (
	GroupHost  GroupBy = 1 << iota // the host name
	GroupPaths                     // the set of paths (sorted, duplicates dropped)
	GroupTags                      // the set of tags (sorted, duplicates dropped)
	GroupNone                      // no field: one group for all snapshots

	// DefaultGroupBy is what the zero GroupBy means.
	DefaultGroupBy = GroupHost | GroupPaths
)

// ParseGroupBy reads a comma-separated subset of "host", "paths", "tags",
// in any order, like restic's --group-by. The empty string is GroupNone.
func ParseGroupBy(s string) (GroupBy, error) {
	if s == "" {
		return GroupNone, nil
	}
	var g GroupBy
	for _, f := range strings.Split(s, ",") {
		var b GroupBy
		switch f {
		case "host":
			b = GroupHost
		case "paths":
			b = GroupPaths
		case "tags":
			b = GroupTags
		default:
			return 0, fmt.Errorf("%w: %q: unknown field %q (use host, paths, tags)", ErrInvalidGroupBy, s, f)
		}
		if g&b != 0 {
			return 0, fmt.Errorf("%w: %q: field %q given twice", ErrInvalidGroupBy, s, f)
		}
		g |= b
	}
	return g, nil
}

// effective resolves the zero value and checks the bits.
func (g GroupBy) effective() (GroupBy, error) {
	switch {
	case g == 0:
		return DefaultGroupBy, nil
	case g == GroupNone:
		return g, nil
	case g&^(GroupHost|GroupPaths|GroupTags) != 0:
		return 0, fmt.Errorf("%w: bits %#x", ErrInvalidGroupBy, uint8(g))
	}
	return g, nil
}

// String returns the form ParseGroupBy reads; "" for GroupNone.
func (g GroupBy) String() string {
	e, err := g.effective()
	if err != nil {
		return fmt.Sprintf("groupby(%#x)", uint8(g))
	}
	var f []string
	for _, x := range []struct {
		b    GroupBy
		name string
	}{{GroupHost, "host"}, {GroupPaths, "paths"}, {GroupTags, "tags"}} {
		if e&x.b != 0 {
			f = append(f, x.name)
		}
	}
	return strings.Join(f, ",")
}

// GroupKey is the value of the grouped fields shared by a group's
// snapshots; fields not grouped by are empty.
type GroupKey struct {
	Host  string   `json:"host,omitempty"`
	Paths []string `json:"paths,omitempty"`
	Tags  []string `json:"tags,omitempty"`
}

// keyEncoder writes an injective, order-preserving encoding of a
// sequence of string lists: each string is escaped (NUL as NUL 2) and
// terminated by NUL 1, each list by NUL NUL. Comparing encodings
// byte-wise compares the lists element by element, a shorter list first.
type keyEncoder struct{ b []byte }

func (e *keyEncoder) str(s string) {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			e.b = append(e.b, 0, 2)
		} else {
			e.b = append(e.b, s[i])
		}
	}
	e.b = append(e.b, 0, 1)
}

func (e *keyEncoder) list(l []string) {
	for _, s := range l {
		e.str(s)
	}
	e.b = append(e.b, 0, 0)
}
