package format

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func validChainRecord() *ChainRecord {
	prev := ID{1}
	return &ChainRecord{
		Version: ChainRecordVersion, Writer: "0123456789abcdef", Seq: 2, Prev: &prev,
		Time: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC), Host: "h", Op: ChainBackup,
		Config:    &ChainConfigRef{Hash: ID{9}, Version: 4},
		Snapshots: []ID{{2}}, Index: []ID{{3}, {4}}, Keys: []ID{{5}},
		Seen: []ChainHead{{Writer: "1111111111111111", Seq: 7, Hash: ID{6}}},
	}
}

func TestChainRecordRoundTrip(t *testing.T) {
	c := validChainRecord()
	body, err := EncodeChainBody(c)
	if err != nil {
		t.Fatal(err)
	}
	mac := bytes.Repeat([]byte{0xab}, 32)
	obj := ChainObject(body, mac)
	b, m, err := SplitChainObject(obj)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, body) || !bytes.Equal(m, mac) {
		t.Fatalf("split gave %q %x", b, m)
	}
	got, err := DecodeChainBody(ChainName(c.Writer, c.Seq), b)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := EncodeChainBody(got)
	if !bytes.Equal(again, body) {
		t.Fatalf("re-encoded %s, want %s", again, body)
	}
}

func TestChainRecordRejects(t *testing.T) {
	name := ChainName("0123456789abcdef", 2)
	for _, tc := range []struct {
		name string
		mod  func(*ChainRecord)
	}{
		{"version", func(c *ChainRecord) { c.Version = 2 }},
		{"writer", func(c *ChainRecord) { c.Writer = "0123456789ABCDEF" }},
		{"seq 0", func(c *ChainRecord) { c.Seq = 0 }},
		{"no prev", func(c *ChainRecord) { c.Prev = nil }},
		{"no time", func(c *ChainRecord) { c.Time = time.Time{} }},
		{"op", func(c *ChainRecord) { c.Op = "delete" }},
		{"unsorted", func(c *ChainRecord) { c.Index = []ID{{4}, {3}} }},
		{"duplicate", func(c *ChainRecord) { c.Keys = []ID{{5}, {5}} }},
		{"seen self", func(c *ChainRecord) { c.Seen[0].Writer = c.Writer }},
		{"config version", func(c *ChainRecord) { c.Config.Version = 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validChainRecord()
			tc.mod(c)
			if _, err := EncodeChainBody(c); !errors.Is(err, ErrFormat) {
				t.Fatalf("encode: %v, want ErrFormat", err)
			}
		})
	}
	body, _ := EncodeChainBody(validChainRecord())
	if _, err := DecodeChainBody(ChainName("0123456789abcdef", 3), body); !errors.Is(err, ErrFormat) {
		t.Fatalf("record stored under another sequence number: %v", err)
	}
	if _, err := DecodeChainBody(name, append(bytes.Clone(body[:len(body)-1]), []byte(`,"extra":1}`)...)); !errors.Is(err, ErrFormat) {
		t.Fatalf("unknown field: %v", err)
	}
	for _, obj := range [][]byte{nil, body, append(bytes.Clone(body), '\n'), ChainObject(body, bytes.Repeat([]byte{1}, 31))} {
		if _, _, err := SplitChainObject(obj); !errors.Is(err, ErrFormat) {
			t.Fatalf("split %q: %v, want ErrFormat", obj, err)
		}
	}
}

func TestParseChainName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{ChainName("0123456789abcdef", 1), true},
		{ChainName("0123456789abcdef", 1<<40), true},
		{"chain/0123456789abcdef/00000000000000000000", false},
		{"chain/0123456789abcdef/0000000000000000001", false},
		{"chain/0123456789abcdef/+0000000000000000001", false},
		{"chain/0123456789abcde/00000000000000000001", false},
		{"chain/0123456789abcdeF/00000000000000000001", false},
		{"chain/0123456789abcdef", false},
		{"snapshots/0123456789abcdef/00000000000000000001", false},
	} {
		w, seq, err := ParseChainName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
		if err == nil && ChainName(w, seq) != tc.name {
			t.Errorf("%s: round trip gives %s", tc.name, ChainName(w, seq))
		}
	}
}

func FuzzDecodeChainRecord(f *testing.F) {
	body, _ := EncodeChainBody(validChainRecord())
	f.Add(ChainObject(body, make([]byte, 32)))
	f.Add([]byte("{}\n" + string(bytes.Repeat([]byte{'0'}, 64)) + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, mac, err := SplitChainObject(data)
		if err != nil {
			return
		}
		if len(mac) != 32 {
			t.Fatalf("mac of %d bytes", len(mac))
		}
		c, err := DecodeChainBody(ChainName("0123456789abcdef", 2), b)
		if err != nil {
			return
		}
		if _, err := EncodeChainBody(c); err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
	})
}
