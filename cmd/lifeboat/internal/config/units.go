package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// valueError is returned by the YAML unmarshalers of Size, Duration and
// Percent; it carries the offending token so Parse can report its line.
type valueError struct {
	tok *token.Token
	err error
}

func (e *valueError) Error() string { return e.err.Error() }
func (e *valueError) Unwrap() error { return e.err }

// scalar extracts the text of a scalar node. null reports an empty value
// (YAML null), which the unmarshalers treat as "not set".
func scalar(n ast.Node) (text string, null bool, err error) {
	for depth := 0; depth < 8; depth++ {
		switch v := n.(type) {
		case nil:
			return "", true, nil
		case *ast.NullNode:
			return "", true, nil
		case *ast.StringNode:
			return v.Value, false, nil
		case *ast.LiteralNode:
			if v.Value == nil {
				return "", true, nil
			}
			return strings.TrimSpace(v.Value.Value), false, nil
		case *ast.TagNode:
			n = v.Value
			continue
		case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
			if tk := v.GetToken(); tk != nil {
				return tk.Value, false, nil
			}
			return "", true, nil
		case *ast.AliasNode:
			return "", false, errors.New("aliases are not supported for this value")
		default:
			return "", false, fmt.Errorf("expected a scalar value, got %s", nodeTypeName(n.Type()))
		}
	}
	return "", false, errors.New("too many nested tags")
}

// unmarshalScalar decodes node with parse, wrapping failures with the token.
func unmarshalScalar[T any](node ast.Node, dst *T, parse func(string) (T, error)) error {
	text, null, err := scalar(node)
	if err == nil && !null {
		var v T
		v, err = parse(text)
		if err == nil {
			*dst = v
		}
	} else if null {
		var zero T
		*dst = zero
	}
	if err != nil {
		var tk *token.Token
		if node != nil {
			tk = node.GetToken()
		}
		return &valueError{tok: tk, err: err}
	}
	return nil
}

// isDecimal reports whether s is digits with an optional fractional part
// ("12", "1.5"); it rejects signs, exponents, "inf" and "nan".
func isDecimal(s string) bool {
	digits, dot := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot && digits > 0 && i < len(s)-1:
			dot = true
		default:
			return false
		}
	}
	return digits > 0
}

// Size is a byte count. In YAML it is written as a plain integer (bytes) or
// a number with a unit: B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB,
// TiB (powers of 1024), case-insensitive, e.g. "16MiB" or "1.5 GB".
type Size int64

var sizeUnits = map[string]int64{
	"":    1,
	"b":   1,
	"kb":  1000,
	"mb":  1000 * 1000,
	"gb":  1000 * 1000 * 1000,
	"tb":  1000 * 1000 * 1000 * 1000,
	"kib": 1 << 10,
	"mib": 1 << 20,
	"gib": 1 << 30,
	"tib": 1 << 40,
}

// ParseSize parses a size such as "16MiB", "512KB" or "1048576".
func ParseSize(s string) (Size, error) {
	s = strings.TrimSpace(s)
	end := 0
	for end < len(s) && (s[end] >= '0' && s[end] <= '9' || s[end] == '.') {
		end++
	}
	num, unit := s[:end], strings.ToLower(strings.TrimSpace(s[end:]))
	mult, ok := sizeUnits[unit]
	if !ok || !isDecimal(num) {
		return 0, fmt.Errorf("invalid size %q (want a number with an optional unit B, KiB, MiB, GiB, KB, MB, GB)", s)
	}
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n > math.MaxInt64/mult {
			return 0, fmt.Errorf("size %q is too large", s)
		}
		return Size(n * mult), nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	v := f * float64(mult)
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	if v != math.Trunc(v) {
		return 0, fmt.Errorf("size %q is not a whole number of bytes", s)
	}
	return Size(v), nil
}

// String formats the size with the largest binary unit that divides it
// exactly ("16MiB", "1000B"); ParseSize accepts the result.
func (s Size) String() string {
	if s > 0 {
		for _, u := range []struct {
			name string
			n    Size
		}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
			if s%u.n == 0 {
				return strconv.FormatInt(int64(s/u.n), 10) + u.name
			}
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

// UnmarshalYAML decodes a size from a YAML scalar; null leaves it zero.
func (s *Size) UnmarshalYAML(node ast.Node) error { return unmarshalScalar(node, s, ParseSize) }

// MarshalYAML encodes the size as its String form.
func (s Size) MarshalYAML() (any, error) { return s.String(), nil }

// Duration is a non-negative time span. In YAML it uses Go's duration syntax
// ("90s", "1h30m") plus a "d" unit of 24 hours ("7d", "1d12h"); a bare 0 is
// also accepted.
type Duration time.Duration

const day = 24 * time.Hour

// ParseDuration parses a duration such as "30s", "6h" or "7d".
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	if s == "" {
		return 0, errors.New("empty duration")
	}
	if s[0] == '-' || s[0] == '+' {
		return 0, fmt.Errorf("invalid duration %q: must be unsigned", s)
	}
	var total time.Duration
	rest := s
	for rest != "" { // every iteration consumes at least one byte
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		num := rest[:i]
		j := i
		for j < len(rest) && !(rest[j] >= '0' && rest[j] <= '9' || rest[j] == '.') {
			j++
		}
		unit := rest[i:j]
		rest = rest[j:]
		if !isDecimal(num) {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		if unit == "" {
			return 0, fmt.Errorf("invalid duration %q: missing unit (use ns, us, ms, s, m, h or d)", s)
		}
		var part time.Duration
		if unit == "d" {
			f, err := strconv.ParseFloat(num, 64)
			if err != nil || f*float64(day) >= math.MaxInt64 {
				return 0, fmt.Errorf("invalid duration %q: out of range", s)
			}
			part = time.Duration(f * float64(day))
		} else {
			var err error
			part, err = time.ParseDuration(num + unit)
			if err != nil {
				return 0, fmt.Errorf("invalid duration %q (use Go syntax such as 90s or 1h30m, or days such as 7d)", s)
			}
		}
		if total > math.MaxInt64-part {
			return 0, fmt.Errorf("invalid duration %q: out of range", s)
		}
		total += part
	}
	return Duration(total), nil
}

// Std returns the duration as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats the duration with whole days as "d" ("7d", "1d12h",
// "30m"); ParseDuration accepts the result.
func (d Duration) String() string {
	td := time.Duration(d)
	if td <= 0 {
		return td.String()
	}
	var out string
	if days := td / day; days > 0 {
		out = strconv.FormatInt(int64(days), 10) + "d"
		td %= day
		if td == 0 {
			return out
		}
	}
	rest := td.String()
	if strings.HasSuffix(rest, "m0s") {
		rest = rest[:len(rest)-2]
	}
	if strings.HasSuffix(rest, "h0m") {
		rest = rest[:len(rest)-2]
	}
	return out + rest
}

// UnmarshalYAML decodes a duration from a YAML scalar; null leaves it zero.
func (d *Duration) UnmarshalYAML(node ast.Node) error {
	return unmarshalScalar(node, d, ParseDuration)
}

// MarshalYAML encodes the duration as its String form.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// Percent is a percentage between 0 and 100. In YAML it is written as a
// number with an optional "%" ("10%", "2.5", 50) or as "full" (100).
type Percent float64

// ParsePercent parses a percentage such as "10%", "12.5" or "full".
func ParsePercent(s string) (Percent, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "full") {
		return 100, nil
	}
	num := strings.TrimSpace(strings.TrimSuffix(s, "%"))
	if !isDecimal(num) {
		return 0, fmt.Errorf("invalid percentage %q (want a number between 0 and 100 such as 10%%, or \"full\")", s)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f > 100 {
		return 0, fmt.Errorf("percentage %q is out of range 0..100", s)
	}
	return Percent(f), nil
}

// Fraction returns the percentage as a fraction between 0 and 1.
func (p Percent) Fraction() float64 { return float64(p) / 100 }

// String formats the percentage as "10%" ("100%" for full).
func (p Percent) String() string {
	return strconv.FormatFloat(float64(p), 'f', -1, 64) + "%"
}

// UnmarshalYAML decodes a percentage from a YAML scalar; null leaves it zero.
func (p *Percent) UnmarshalYAML(node ast.Node) error { return unmarshalScalar(node, p, ParsePercent) }

// MarshalYAML encodes the percentage as its String form.
func (p Percent) MarshalYAML() (any, error) { return p.String(), nil }

// nodeTypeName names a YAML node type for messages.
func nodeTypeName(t ast.NodeType) string {
	switch t {
	case ast.MappingType, ast.MappingValueType:
		return "a mapping"
	case ast.SequenceType:
		return "a list"
	case ast.StringType, ast.LiteralType:
		return "a string"
	case ast.IntegerType:
		return "an integer"
	case ast.FloatType, ast.InfinityType, ast.NanType:
		return "a number"
	case ast.BoolType:
		return "a boolean"
	case ast.NullType:
		return "null"
	case ast.AliasType:
		return "an alias"
	default:
		return "a " + strings.ToLower(t.String())
	}
}
