package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Parser reads configuration files. The zero value is ready to use.
type Parser struct {
	// HomeDir returns the directory a leading "~" in paths expands to;
	// nil means os.UserHomeDir. It is called only when a path needs it.
	HomeDir func() (string, error)
}

// Load reads and parses the configuration file at path with a zero Parser.
func Load(path string) (*Config, error) { return Parser{}.Load(path) }

// Parse parses data as the configuration file called name with a zero
// Parser. See Parser.Parse.
func Parse(name string, data []byte) (*Config, error) { return Parser{}.Parse(name, data) }

// Load reads and parses the configuration file at path. Errors reading the
// file wrap the os error (errors.Is(err, fs.ErrNotExist) works); problems in
// its content are reported as by Parse.
func (p Parser) Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	return p.Parse(path, data)
}

// Parse decodes and validates data as the configuration file called name.
// name appears in error messages, and relative paths in the file are
// resolved against its directory (made absolute with the working directory
// if name is relative). On failure the error is an ErrorList of *Error.
func (p Parser) Parse(name string, data []byte) (*Config, error) {
	if name == "" {
		name = "<config>"
	}
	if len(data) > MaxFileSize {
		return nil, ErrorList{{File: name, Msg: fmt.Sprintf("file is larger than %d bytes", MaxFileSize)}}
	}
	dir := filepath.Dir(name)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	body, err := parseYAML(name, data)
	if err != nil {
		return nil, err
	}
	idx := buildIndex(body)
	if idx.overLine > 0 {
		return nil, ErrorList{{File: name, Line: idx.overLine, Msg: fmt.Sprintf("aliases expand to more than %d nodes", aliasBudget)}}
	}
	cfg := &Config{}
	if body != nil {
		if err := decode(body, cfg); err != nil {
			return nil, ErrorList{idx.decodeError(name, err)}
		}
	}
	home := p.HomeDir
	if home == nil {
		home = os.UserHomeDir
	}
	v := &validator{file: name, dir: dir, idx: idx, home: home, cfg: cfg}
	v.validate()
	if len(v.errs) > 0 {
		slices.SortStableFunc(v.errs, func(a, b *Error) int { return a.Line - b.Line })
		return nil, v.errs
	}
	cfg.File = name
	cfg.Dir = dir
	cfg.Warnings = v.warns
	return cfg, nil
}

// parseYAML parses data into the body of its single document (nil when the
// file is empty).
func parseYAML(name string, data []byte) (body ast.Node, err error) {
	defer func() {
		if r := recover(); r != nil { // defend against parser bugs on hostile input
			body, err = nil, ErrorList{{File: name, Msg: fmt.Sprintf("malformed YAML (parser failure: %v)", r)}}
		}
	}()
	if line := tooDeep(data); line > 0 {
		return nil, ErrorList{{File: name, Line: line, Msg: fmt.Sprintf("nesting is too deep (more than %d levels of [ and {)", maxFlowDepth)}}
	}
	f, perr := parser.ParseBytes(data, 0, parser.AllowDuplicateMapKey())
	if perr != nil {
		e := &Error{File: name, Msg: "invalid YAML", Err: perr}
		var ye yaml.Error
		if errors.As(perr, &ye) {
			e.Msg = "invalid YAML: " + ye.GetMessage()
			if tk := ye.GetToken(); tk != nil && tk.Position != nil {
				e.Line = tk.Position.Line
			}
		}
		return nil, ErrorList{e}
	}
	for _, doc := range f.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if body != nil {
			return nil, ErrorList{{File: name, Line: nodeLine(doc.Body), Msg: "the file must hold a single YAML document"}}
		}
		body = doc.Body
	}
	return body, nil
}

// maxFlowDepth bounds the nesting of flow collections. The YAML parser's
// time grows with the square of the nesting, so deep nesting is refused
// before parsing; real configuration files nest a few levels.
const maxFlowDepth = 32

// tooDeep returns the line on which flow collections ([ and {) nest deeper
// than maxFlowDepth, or 0. It is a rough lexical scan: it skips quoted
// strings and comments and may over-count brackets inside plain scalars,
// which only matters for files far outside any real use.
func tooDeep(data []byte) int {
	depth, line := 0, 1
	var quote byte
	comment := false
	for i, c := range data {
		switch {
		case c == '\n':
			line++
			comment = false // quoted scalars may span lines: quote stays
		case comment:
		case quote != 0:
			if c == quote && (quote == '\'' || i == 0 || data[i-1] != '\\') {
				quote = 0
			}
		case c == '#' && (i == 0 || data[i-1] == ' ' || data[i-1] == '\t' || data[i-1] == '\n'):
			comment = true
		case (c == '"' || c == '\'') && (i == 0 || isQuoteStart(data[i-1])):
			quote = c
		case c == '[' || c == '{':
			depth++
			if depth > maxFlowDepth {
				return line
			}
		case c == ']' || c == '}':
			if depth > 0 {
				depth--
			}
		}
	}
	return 0
}

// isQuoteStart reports whether a quote after byte b opens a quoted scalar.
func isQuoteStart(b byte) bool {
	switch b {
	case ' ', '\t', '\n', '[', '{', ',', ':', '-', '?':
		return true
	}
	return false
}

// decode decodes body into cfg strictly.
func decode(body ast.Node, cfg *Config) (err error) {
	defer func() {
		if r := recover(); r != nil { // defend against decoder bugs on hostile input
			err = fmt.Errorf("malformed YAML (decoder failure: %v)", r)
		}
	}()
	return yaml.NodeToValue(body, cfg, yaml.Strict(), yaml.AllowFieldPrefixes(ignoredKeyPrefix))
}

// ignoredKeyPrefix marks keys that are accepted and ignored (anchor holders).
const ignoredKeyPrefix = "x-"

func nodeLine(n ast.Node) int {
	if n == nil {
		return 0
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line
	}
	return 0
}

// pos is a line and column in the file.
type pos struct{ line, col int }

func tokenPos(tk *token.Token) (pos, bool) {
	if tk == nil || tk.Position == nil {
		return pos{}, false
	}
	return pos{tk.Position.Line, tk.Position.Column}, true
}

// entry is one field found in the file.
type entry struct {
	line int
	null bool // the value is YAML null (or empty)
	via  bool // reached through an alias or merge key; line is theirs
}

// index maps field paths ("regions[1].path") to where they are in the file,
// and positions back to paths, so that both decoder errors and validation
// errors can name the line and the field.
type index struct {
	entries map[string]entry
	keys    map[string][]string // mapping path -> its keys, in order
	keyPos  map[pos]string      // position of a mapping key -> field path
	valPos  map[pos]string      // position of a value node -> field path
	anchors map[string]ast.Node
	budget  int // nodes that may still be visited through aliases
	// overLine is the line of the alias at which budget ran out (0 if not).
	overLine int
}

// Bounds on indexing. Following aliases and merge keys can expand a small
// file exponentially ("billion laughs"), so nodes reached through them are
// counted; a file needing more than aliasBudget is refused.
const (
	aliasBudget   = 10000
	indexMaxDepth = 64
)

func buildIndex(body ast.Node) *index {
	idx := &index{
		entries: map[string]entry{"": {line: 1}},
		keys:    map[string][]string{},
		keyPos:  map[pos]string{},
		valPos:  map[pos]string{},
		anchors: map[string]ast.Node{},
		budget:  aliasBudget,
	}
	if body != nil {
		idx.walk(body, "", 0, 0)
	}
	return idx
}

// setPos records that the node at p is reached as path. A node can be
// reached several times through aliases and merge keys; the first path wins,
// except that a path under an ignored "x-" key (which the decoder never
// reports errors in) gives way to a real one.
func setPos(m map[pos]string, p pos, path string) {
	if old, ok := m[p]; !ok || ignoredPath(old) && !ignoredPath(path) {
		m[p] = path
	}
}

// ignoredPath reports whether a field path lies under an ignored key.
func ignoredPath(path string) bool {
	return strings.HasPrefix(path, ignoredKeyPrefix) || strings.Contains(path, "."+ignoredKeyPrefix)
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func isNull(n ast.Node) bool {
	if n == nil {
		return true
	}
	_, ok := n.(*ast.NullNode)
	return ok
}

// walk indexes n found at path. override, when non-zero, is the line of an
// alias or merge key through which n is reached; everything below it is
// reported at that line.
func (x *index) walk(n ast.Node, path string, override, depth int) {
	if n == nil || depth > indexMaxDepth || !x.spend(override) {
		return
	}
	if p, ok := tokenPos(n.GetToken()); ok {
		setPos(x.valPos, p, path)
	}
	switch v := n.(type) {
	case *ast.AnchorNode:
		if v.Name != nil && v.Name.GetToken() != nil {
			x.anchors[v.Name.GetToken().Value] = v.Value
		}
		x.walk(v.Value, path, override, depth+1)
	case *ast.AliasNode:
		if ignoredPath(path) {
			return // the decoder skips ignored keys; so does the index
		}
		line := override
		if line == 0 {
			line = nodeLine(v)
		}
		x.walk(x.alias(v), path, line, depth+1)
	case *ast.TagNode:
		x.walk(v.Value, path, override, depth+1)
	case *ast.MappingNode:
		x.walkMapping(v.Values, path, override, depth+1, map[string]bool{})
	case *ast.MappingValueNode:
		x.walkMapping([]*ast.MappingValueNode{v}, path, override, depth+1, map[string]bool{})
	case *ast.SequenceNode:
		for i, e := range v.Values {
			p := fmt.Sprintf("%s[%d]", path, i)
			line := override
			if line == 0 {
				line = nodeLine(e)
			}
			x.add(p, line, isNull(e), override != 0)
			x.walk(e, p, override, depth+1)
		}
	}
}

// spend accounts for visiting a node reached through an alias at line
// (0: reached directly, which is free) and reports whether to visit it.
func (x *index) spend(line int) bool {
	if line == 0 {
		return true
	}
	if x.budget <= 0 {
		if x.overLine == 0 {
			x.overLine = line
		}
		return false
	}
	x.budget--
	return true
}

func (x *index) alias(a *ast.AliasNode) ast.Node {
	if a.Value == nil || a.Value.GetToken() == nil {
		return nil
	}
	return x.anchors[a.Value.GetToken().Value]
}

func (x *index) add(path string, line int, null, via bool) {
	if _, ok := x.entries[path]; !ok {
		x.entries[path] = entry{line: line, null: null, via: via}
	}
}

// walkMapping indexes the entries of a mapping; explicit keys take
// precedence over keys merged in with "<<".
func (x *index) walkMapping(values []*ast.MappingValueNode, path string, override, depth int, seen map[string]bool) {
	if depth > indexMaxDepth {
		return
	}
	var merges []*ast.MappingValueNode
	for _, mv := range values {
		if mv == nil || mv.Key == nil {
			continue
		}
		if mv.Key.IsMergeKey() {
			merges = append(merges, mv)
			continue
		}
		key := keyString(mv.Key)
		child := joinPath(path, key)
		if p, ok := tokenPos(mv.Key.GetToken()); ok {
			setPos(x.keyPos, p, child)
		}
		if seen[key] {
			continue // the decoder reports duplicates
		}
		seen[key] = true
		x.keys[path] = append(x.keys[path], key)
		line := override
		if line == 0 {
			line = nodeLine(mv.Key)
		}
		x.add(child, line, isNull(mv.Value), override != 0)
		x.walk(mv.Value, child, override, depth+1)
	}
	for _, mv := range merges {
		line := override
		if line == 0 {
			line = nodeLine(mv.Key)
		}
		x.walkMerge(mv.Value, path, line, depth+1, seen)
	}
}

// walkMerge indexes the mapping(s) merged into path by a "<<" key.
func (x *index) walkMerge(n ast.Node, path string, line, depth int, seen map[string]bool) {
	if n == nil || depth > indexMaxDepth || !x.spend(line) {
		return
	}
	switch v := n.(type) {
	case *ast.AliasNode:
		x.walkMerge(x.alias(v), path, line, depth+1, seen)
	case *ast.AnchorNode:
		if v.Name != nil && v.Name.GetToken() != nil {
			x.anchors[v.Name.GetToken().Value] = v.Value
		}
		x.walkMerge(v.Value, path, line, depth+1, seen)
	case *ast.TagNode:
		x.walkMerge(v.Value, path, line, depth+1, seen)
	case *ast.MappingNode:
		x.walkMapping(v.Values, path, line, depth+1, seen)
	case *ast.MappingValueNode:
		x.walkMapping([]*ast.MappingValueNode{v}, path, line, depth+1, seen)
	case *ast.SequenceNode:
		for _, e := range v.Values {
			x.walkMerge(e, path, line, depth+1, seen)
		}
	}
}

// keyString returns the text of a mapping key.
func keyString(k ast.MapKeyNode) string {
	var n ast.Node = k
	for range 8 {
		switch v := n.(type) {
		case *ast.StringNode:
			return v.Value
		case *ast.MappingKeyNode:
			n = v.Value
			continue
		case *ast.TagNode:
			n = v.Value
			continue
		}
		break
	}
	if n != nil && n.GetToken() != nil {
		return n.GetToken().Value
	}
	return "?"
}

// has reports whether path is present with a non-null value.
func (x *index) has(path string) bool {
	e, ok := x.entries[path]
	return ok && !e.null
}

// present reports whether path is present (possibly null).
func (x *index) present(path string) bool {
	_, ok := x.entries[path]
	return ok
}

// line returns the line of path, or of its closest present ancestor.
func (x *index) line(path string) int {
	for {
		if e, ok := x.entries[path]; ok {
			return e.line
		}
		parent := parentPath(path)
		if parent == path {
			return 1
		}
		path = parent
	}
}

// parentPath strips the last component: "a.b[2]" -> "a.b", "a.b" -> "a".
func parentPath(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		switch p[i] {
		case '.':
			return p[:i]
		case '[':
			return p[:i]
		}
	}
	return ""
}

// decodeError converts an error from the YAML decoder into an *Error.
func (x *index) decodeError(file string, err error) *Error {
	e := &Error{File: file, Err: err}
	var tk *token.Token
	keyFirst := false
	var ve *valueError
	var ye yaml.Error
	switch {
	case errors.As(err, &ve):
		tk, e.Msg = ve.tok, ve.err.Error()
	case errors.As(err, &ye):
		// Not ye.Error(): it renders a source excerpt, which is slow and
		// repeats what File and Line already say.
		tk, e.Msg = ye.GetToken(), decodeMessage(ye)
		var uf *yaml.UnknownFieldError
		var dk *yaml.DuplicateKeyError
		keyFirst = errors.As(err, &uf) || errors.As(err, &dk)
	case errors.Is(err, yaml.ErrExceededMaxDepth):
		e.Msg = "nesting is too deep"
	default:
		e.Msg = err.Error()
	}
	p, ok := tokenPos(tk)
	if !ok {
		return e
	}
	e.Line = p.line
	maps := []map[pos]string{x.valPos, x.keyPos}
	if keyFirst {
		maps[0], maps[1] = maps[1], maps[0]
	}
	for _, m := range maps {
		if f, ok := m[p]; ok {
			e.Field = f
			// A key error is on the key's own line (a duplicate is not
			// where the first occurrence is), unless the key came in
			// through an alias or merge key; a value error is reported on
			// the line of its key.
			if !keyFirst || x.entries[f].via {
				e.Line = x.line(f)
			}
			break
		}
	}
	return e
}

// decodeMessage phrases a decoder error without Go type names.
func decodeMessage(ye yaml.Error) string {
	var te *yaml.TypeError
	var ut *yaml.UnexpectedNodeTypeError
	var of *yaml.OverflowError
	switch {
	case errors.As(ye, &te):
		return fmt.Sprintf("expected %s, got %s", kindName(te.DstType), kindName(te.SrcType))
	case errors.As(ye, &ut):
		return fmt.Sprintf("expected %s, got %s", nodeTypeName(ut.Expected), nodeTypeName(ut.Actual))
	case errors.As(ye, &of):
		return fmt.Sprintf("number %s is out of range", of.SrcNum)
	}
	return ye.GetMessage()
}

func kindName(t reflect.Type) string {
	if t == nil {
		return "null"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	case reflect.Pointer:
		return kindName(t.Elem())
	}
	return "a " + strconv.Quote(t.Kind().String())
}
