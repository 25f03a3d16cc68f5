package retention

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ErrInvalidRule is wrapped by every error about a malformed rule.
var ErrInvalidRule = errors.New("invalid retention rule")

// Unlimited as a rule's N keeps the newest snapshot of every bucket.
const Unlimited = -1

// Kind names what a rule keeps.
type Kind uint8

// The rule kinds. Their order here is the canonical order of reasons.
const (
	KindLast          Kind = iota + 1 // the N newest complete snapshots
	KindHourly                        // newest of each of the N newest hours
	KindDaily                         // newest of each of the N newest days
	KindWeekly                        // newest of each of the N newest ISO weeks
	KindMonthly                       // newest of each of the N newest months
	KindYearly                        // newest of each of the N newest years
	KindWithin                        // everything newer than ref − D, plus the anchor
	KindWithinHourly                  // hourly with N unlimited, newer than ref − D
	KindWithinDaily                   // daily with N unlimited, newer than ref − D
	KindWithinWeekly                  // weekly with N unlimited, newer than ref − D
	KindWithinMonthly                 // monthly with N unlimited, newer than ref − D
	KindWithinYearly                  // yearly with N unlimited, newer than ref − D
	KindTag                           // every snapshot carrying all of a tag list
	kindEnd
)

var kindNames = [kindEnd]string{
	KindLast: "last", KindHourly: "hourly", KindDaily: "daily", KindWeekly: "weekly",
	KindMonthly: "monthly", KindYearly: "yearly", KindWithin: "within",
	KindWithinHourly: "within-hourly", KindWithinDaily: "within-daily",
	KindWithinWeekly: "within-weekly", KindWithinMonthly: "within-monthly",
	KindWithinYearly: "within-yearly", KindTag: "tag",
}

// String returns the kind's name as ParseRule reads it: "daily",
// "within-weekly", "tag".
func (k Kind) String() string {
	if k == 0 || k >= kindEnd {
		return "kind(" + strconv.Itoa(int(k)) + ")"
	}
	return kindNames[k]
}

// counted reports whether k takes a count N.
func (k Kind) counted() bool { return k >= KindLast && k <= KindYearly }

// windowed reports whether k takes a duration D.
func (k Kind) windowed() bool { return k >= KindWithin && k <= KindWithinYearly }

// bucket returns the bucket index (0 hourly .. 4 yearly) a bucket rule
// uses, or -1 for rules without buckets.
func (k Kind) bucket() int {
	switch {
	case k >= KindHourly && k <= KindYearly:
		return int(k - KindHourly)
	case k >= KindWithinHourly && k <= KindWithinYearly:
		return int(k - KindWithinHourly)
	}
	return -1
}

// Rule is one retention rule. Which fields matter depends on Kind: N for
// last and the bucket kinds (N ≥ 1, or Unlimited), D for within and the
// within-bucket kinds, Tags for tag.
type Rule struct {
	Kind Kind
	N    int
	D    Duration
	Tags []string
}

// Last keeps the n newest complete snapshots of each group.
func Last(n int) Rule { return Rule{Kind: KindLast, N: n} }

// Hourly keeps the newest snapshot of each of the n newest hours that have one.
func Hourly(n int) Rule { return Rule{Kind: KindHourly, N: n} }

// Daily keeps the newest snapshot of each of the n newest days that have one.
func Daily(n int) Rule { return Rule{Kind: KindDaily, N: n} }

// Weekly keeps the newest snapshot of each of the n newest ISO weeks that have one.
func Weekly(n int) Rule { return Rule{Kind: KindWeekly, N: n} }

// Monthly keeps the newest snapshot of each of the n newest months that have one.
func Monthly(n int) Rule { return Rule{Kind: KindMonthly, N: n} }

// Yearly keeps the newest snapshot of each of the n newest years that have one.
func Yearly(n int) Rule { return Rule{Kind: KindYearly, N: n} }

// Within keeps every snapshot newer than ref − d and the anchor.
func Within(d Duration) Rule { return Rule{Kind: KindWithin, D: d} }

// WithinBucket keeps, for the bucket of kind k (KindHourly .. KindYearly),
// the newest snapshot of every bucket newer than ref − d.
func WithinBucket(k Kind, d Duration) Rule {
	if k >= KindHourly && k <= KindYearly {
		k = k - KindHourly + KindWithinHourly
	}
	return Rule{Kind: k, D: d}
}

// Tag keeps every snapshot whose tags include all of tags.
func Tag(tags ...string) Rule { return Rule{Kind: KindTag, Tags: tags} }

// Validate reports whether r is well formed; errors wrap ErrInvalidRule.
func (r Rule) Validate() error {
	switch {
	case r.Kind.counted():
		if r.N < 1 && r.N != Unlimited {
			return fmt.Errorf("%w: %s %d: N must be at least 1, or all (-1)", ErrInvalidRule, r.Kind, r.N)
		}
	case r.Kind.windowed():
		if err := r.D.validate(); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrInvalidRule, r.Kind, err)
		}
	case r.Kind == KindTag:
		if len(r.Tags) == 0 {
			return fmt.Errorf("%w: tag: empty tag list", ErrInvalidRule)
		}
		for _, t := range r.Tags {
			if t == "" {
				return fmt.Errorf("%w: tag: empty tag", ErrInvalidRule)
			}
			if strings.ContainsAny(t, ", \t\n") {
				return fmt.Errorf("%w: tag %q: a tag may not contain a comma or white space", ErrInvalidRule, t)
			}
		}
	default:
		return fmt.Errorf("%w: unknown %s", ErrInvalidRule, r.Kind)
	}
	return nil
}

// String returns the canonical text of r, which ParseRule reads back:
// "last 3", "daily 7", "monthly all", "within 30d", "within-daily 2w",
// "tag a,b" (tags sorted, duplicates dropped).
func (r Rule) String() string {
	switch {
	case r.Kind.counted():
		return r.Kind.String() + " " + countText(r.N)
	case r.Kind.windowed():
		return r.Kind.String() + " " + r.D.String()
	case r.Kind == KindTag:
		return "tag " + strings.Join(normTags(r.Tags), ",")
	}
	return r.Kind.String()
}

func countText(n int) string {
	if n == Unlimited {
		return "all"
	}
	return strconv.Itoa(n)
}

// ParseRule reads a rule in the form String writes: a kind name, one
// space, and its parameter (a count or "all"; a duration; a
// comma-separated tag list). Errors wrap ErrInvalidRule.
func ParseRule(s string) (Rule, error) {
	name, arg, ok := strings.Cut(s, " ")
	if !ok || arg == "" {
		return Rule{}, fmt.Errorf("%w: %q: want \"<kind> <parameter>\"", ErrInvalidRule, s)
	}
	var k Kind
	for i := KindLast; i < kindEnd; i++ {
		if kindNames[i] == name {
			k = i
		}
	}
	r := Rule{Kind: k}
	switch {
	case k == 0:
		return Rule{}, fmt.Errorf("%w: %q: unknown kind %q", ErrInvalidRule, s, name)
	case k.counted():
		if arg == "all" {
			r.N = Unlimited
		} else {
			n, err := strconv.Atoi(arg)
			if err != nil {
				return Rule{}, fmt.Errorf("%w: %q: count %q is not a number or \"all\"", ErrInvalidRule, s, arg)
			}
			r.N = n
		}
	case k.windowed():
		d, err := ParseDuration(arg)
		if err != nil {
			return Rule{}, fmt.Errorf("%w: %q: %w", ErrInvalidRule, s, err)
		}
		r.D = d
	default:
		r.Tags = strings.Split(arg, ",")
	}
	if err := r.Validate(); err != nil {
		return Rule{}, err
	}
	return r, nil
}

// MarshalText writes r.String().
func (r Rule) MarshalText() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return []byte(r.String()), nil
}

// UnmarshalText reads a rule with ParseRule.
func (r *Rule) UnmarshalText(b []byte) error {
	p, err := ParseRule(string(b))
	if err != nil {
		return err
	}
	*r = p
	return nil
}

// normTags returns tags sorted with duplicates removed: tags itself if it
// already is, else a new slice.
func normTags(tags []string) []string {
	sortedSet := true
	for i := 1; i < len(tags); i++ {
		if tags[i-1] >= tags[i] {
			sortedSet = false
			break
		}
	}
	if sortedSet {
		return tags
	}
	out := slices.Clone(tags)
	slices.Sort(out)
	return slices.Compact(out)
}
