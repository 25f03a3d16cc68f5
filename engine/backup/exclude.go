package backup

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Matcher decides which paths are excluded. Patterns follow restic's
// conventions: a pattern without a slash matches an entry's base name; a
// pattern with a slash matches the full path (an absolute pattern from the
// root, a relative one at any depth); "*" and "?" do not cross a slash, "**"
// does; "[...]" is a character class.
type Matcher struct {
	res []*regexp.Regexp
}

// NewMatcher compiles patterns.
func NewMatcher(patterns []string) (*Matcher, error) {
	m := &Matcher{}
	for _, p := range patterns {
		p = strings.TrimSpace(p)
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		re, err := globRegexp(p)
		if err != nil {
			return nil, fmt.Errorf("exclude pattern %q: %w", p, err)
		}
		m.res = append(m.res, re)
	}
	return m, nil
}

// ReadPatternFile reads exclude patterns, one a line; blank lines and lines
// starting with # are ignored.
func ReadPatternFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("exclude file: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("exclude file %s: %w", path, err)
	}
	return out, nil
}

// Excluded reports whether the absolute path is excluded.
func (m *Matcher) Excluded(path string) bool {
	if m == nil {
		return false
	}
	for _, re := range m.res {
		if re.MatchString(path) {
			return true
		}
	}
	return false
}

func globRegexp(p string) (*regexp.Regexp, error) {
	var b strings.Builder
	switch {
	case !strings.Contains(p, "/"):
		b.WriteString(`(^|/)`) // base name at any depth
	case strings.HasPrefix(p, "/"):
		b.WriteString(`^`)
	default:
		b.WriteString(`(^|/)`)
	}
	p = filepath.ToSlash(p)
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch c {
		case '*':
			if i+1 < len(p) && p[i+1] == '*' {
				i++
				if i+1 < len(p) && p[i+1] == '/' {
					i++
					b.WriteString(`(.*/)?`)
				} else {
					b.WriteString(`.*`)
				}
			} else {
				b.WriteString(`[^/]*`)
			}
		case '?':
			b.WriteString(`[^/]`)
		case '[':
			j := strings.IndexByte(p[i:], ']')
			if j < 0 {
				return nil, fmt.Errorf("unterminated [")
			}
			class := p[i+1 : i+j]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + strings.ReplaceAll(class, `\`, `\\`) + "]")
			i += j
		case '\\':
			if i+1 < len(p) {
				i++
				b.WriteString(regexp.QuoteMeta(string(p[i])))
			}
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString(`(/.*)?$`) // a matched directory excludes its contents
	return regexp.Compile(b.String())
}
