package format

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ChainPrefix holds the commit chains (FORMAT.md §19): one chain per
// writer, chain/<writer>/<20-digit sequence number>, each record naming
// the SHA-256 of the record before it and authenticated with an HMAC
// keyed by the repository secret.
const ChainPrefix = "chain/"

// ChainVersion is the first repository format version whose writers append
// commit records: every writer of a version 5 repository must record its
// commits, so a release that would commit without recording (version 4)
// refuses the repository. In a repository of an earlier version nothing
// appends records and history verification reports nothing.
const ChainVersion = 5

// ChainRecordVersion is the version of the commit record.
const ChainRecordVersion = 1

// MaxChainRecordSize bounds a commit record object.
const MaxChainRecordSize = 16 << 20

// ChainWriterLen is the length of a writer ID: lowercase hex digits.
const ChainWriterLen = 16

// Operations a commit record names.
const (
	ChainInit    = "init"   // the repository was created
	ChainStart   = "start"  // a writer's first record: what it found
	ChainBackup  = "backup" // a snapshot committed
	ChainKey     = "key"    // a key added
	ChainConfig  = "config" // the config replaced (migrate)
	ChainIndex   = "index"  // index objects written (prune)
	chainOpLimit = 64
)

// ChainHead names a record of a writer's chain: its sequence number and
// the SHA-256 of its stored bytes.
type ChainHead struct {
	Writer string `json:"writer"`
	Seq    uint64 `json:"seq"`
	Hash   ID     `json:"hash"`
}

// ChainConfigRef names a config object by the SHA-256 of its sealed bytes
// and the format version it holds.
type ChainConfigRef struct {
	Hash    ID  `json:"hash"`
	Version int `json:"version"`
}

// ChainRecord is one commit record. Its body is JSON with these fields in
// this order; Seen lists the heads of other writers' chains the writer had
// verified when it appended (witnesses: a chain cut short below a head
// someone witnessed is detected without local state).
type ChainRecord struct {
	Version   int             `json:"version"`
	Writer    string          `json:"writer"`
	Seq       uint64          `json:"seq"`
	Prev      *ID             `json:"prev,omitempty"`
	Time      time.Time       `json:"time"`
	Host      string          `json:"host,omitempty"`
	Op        string          `json:"op"`
	Config    *ChainConfigRef `json:"config,omitempty"`
	Snapshots []ID            `json:"snapshots,omitempty"`
	Index     []ID            `json:"index,omitempty"`
	Keys      []ID            `json:"keys,omitempty"`
	Seen      []ChainHead     `json:"seen,omitempty"`
}

// ChainName is the object name of record seq of writer's chain.
func ChainName(writer string, seq uint64) string {
	return fmt.Sprintf("%s%s/%020d", ChainPrefix, writer, seq)
}

// ParseChainName returns the writer and sequence number of a commit
// record's name.
func ParseChainName(name string) (writer string, seq uint64, err error) {
	rest, ok := strings.CutPrefix(name, ChainPrefix)
	w, s, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || !ValidChainWriter(w) || len(s) != 20 {
		return "", 0, fmt.Errorf("%q is not a commit record name: %w", name, ErrFormat)
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return "", 0, fmt.Errorf("%q is not a commit record name: %w", name, ErrFormat)
		}
	}
	seq, perr := strconv.ParseUint(s, 10, 64)
	if perr != nil || seq == 0 {
		return "", 0, fmt.Errorf("%q is not a commit record name: %w", name, ErrFormat)
	}
	return w, seq, nil
}

// ValidChainWriter reports whether w is a well-formed writer ID.
func ValidChainWriter(w string) bool {
	if len(w) != ChainWriterLen {
		return false
	}
	for _, c := range w {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ChainMACInput is the byte string a record's MAC covers: a label, the
// record's object name and its body, framed by zero bytes.
func ChainMACInput(name string, body []byte) []byte {
	b := make([]byte, 0, 24+len(name)+len(body))
	b = append(b, "lifeboat chain v1\x00"...)
	b = append(b, name...)
	b = append(b, 0)
	return append(b, body...)
}

func validChainOp(op string) bool {
	switch op {
	case ChainInit, ChainStart, ChainBackup, ChainKey, ChainConfig, ChainIndex:
		return true
	}
	return false
}

func sortedUnique(ids []ID) bool {
	for i := 1; i < len(ids); i++ {
		if bytes.Compare(ids[i-1][:], ids[i][:]) >= 0 {
			return false
		}
	}
	return true
}

func (c *ChainRecord) validate() error {
	const what = "commit record"
	switch {
	case c.Version != ChainRecordVersion:
		return formatErr(what, "version %d", c.Version)
	case !ValidChainWriter(c.Writer):
		return formatErr(what, "writer %q", c.Writer)
	case c.Seq == 0:
		return formatErr(what, "sequence number 0")
	case (c.Seq == 1) != (c.Prev == nil):
		return formatErr(what, "record %d with prev %v", c.Seq, c.Prev != nil)
	case c.Time.IsZero():
		return formatErr(what, "no time")
	case len(c.Host) > 255:
		return formatErr(what, "host of %d bytes", len(c.Host))
	case len(c.Op) > chainOpLimit || !validChainOp(c.Op):
		return formatErr(what, "op %q", c.Op)
	case c.Config != nil && c.Config.Version < 1:
		return formatErr(what, "config version %d", c.Config.Version)
	case !sortedUnique(c.Snapshots) || !sortedUnique(c.Index) || !sortedUnique(c.Keys):
		return formatErr(what, "ID lists not sorted and unique")
	}
	for i, h := range c.Seen {
		if !ValidChainWriter(h.Writer) || h.Writer == c.Writer || h.Seq == 0 {
			return formatErr(what, "seen %q %d", h.Writer, h.Seq)
		}
		if i > 0 && c.Seen[i-1].Writer >= h.Writer {
			return formatErr(what, "seen not sorted by writer")
		}
	}
	return nil
}

// SortChainIDs sorts ids and removes duplicates, as records store them.
func SortChainIDs(ids []ID) []ID {
	ids = slices.Clone(ids)
	slices.SortFunc(ids, func(a, b ID) int { return bytes.Compare(a[:], b[:]) })
	return slices.Compact(ids)
}

// EncodeChainBody encodes a record's body (JSON, without the MAC line).
func EncodeChainBody(c *ChainRecord) ([]byte, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	return json.Marshal(c)
}

// ChainObject joins a body and its MAC into the stored object: the body,
// a newline, the MAC in 64 lowercase hex digits, a newline.
func ChainObject(body, mac []byte) []byte {
	out := make([]byte, 0, len(body)+66)
	out = append(out, body...)
	out = append(out, '\n')
	out = hex.AppendEncode(out, mac)
	return append(out, '\n')
}

// SplitChainObject splits a stored commit record into its body and MAC,
// checking only the framing.
func SplitChainObject(data []byte) (body, mac []byte, err error) {
	const what = "commit record"
	if len(data) > MaxChainRecordSize {
		return nil, nil, formatErr(what, "%d bytes exceeds the %d byte limit", len(data), MaxChainRecordSize)
	}
	if len(data) < 66 || data[len(data)-1] != '\n' || data[len(data)-66] != '\n' {
		return nil, nil, formatErr(what, "no MAC line")
	}
	h := data[len(data)-65 : len(data)-1]
	for _, c := range h {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return nil, nil, formatErr(what, "MAC is not lowercase hex")
		}
	}
	mac = make([]byte, 32)
	if _, err := hex.Decode(mac, h); err != nil {
		return nil, nil, formatErr(what, "MAC: %v", err)
	}
	return data[:len(data)-66], mac, nil
}

// DecodeChainBody strictly decodes and validates a record body stored as
// name: the body's writer and sequence number must be the name's.
func DecodeChainBody(name string, body []byte) (*ChainRecord, error) {
	w, seq, err := ParseChainName(name)
	if err != nil {
		return nil, err
	}
	var c ChainRecord
	if err := decodeJSON("commit record", body, MaxChainRecordSize, &c); err != nil {
		return nil, err
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	if c.Writer != w || c.Seq != seq {
		return nil, formatErr("commit record", "stored as %s but says %s/%d", name, c.Writer, c.Seq)
	}
	return &c, nil
}
