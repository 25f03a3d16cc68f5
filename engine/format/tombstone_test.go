package format

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTombstoneNames(t *testing.T) {
	id := testID(3).String()
	for _, tc := range []struct {
		name string
		obj  string
		ok   bool
	}{
		{"tombstones/snapshots/" + id, "snapshots/" + id, true},
		{"tombstones/keys/" + id, "keys/" + id, true},
		{"tombstones/index/" + id, "index/" + id, true},
		{"tombstones/data/" + id[:2] + "/" + id, "data/" + id[:2] + "/" + id, true},
		{"tombstones/data/zz/" + id, "", false},
		{"tombstones/config", "", false},
		{"tombstones/drills/" + id, "", false},
		{"tombstones/snapshots/" + strings.ToUpper(id), "", false},
		{"snapshots/" + id, "", false},
	} {
		obj, ok := TombstonedObject(tc.name)
		if ok != tc.ok || (ok && obj != tc.obj) {
			t.Errorf("TombstonedObject(%q) = %q, %v", tc.name, obj, ok)
		}
		if ok && TombstoneName(obj) != tc.name {
			t.Errorf("TombstoneName(%q) = %q", obj, TombstoneName(obj))
		}
	}
}

func TestTombstoneDecodeIsStrict(t *testing.T) {
	obj := SnapshotName(testID(4))
	good := &Tombstone{Version: 1, Object: obj, Reason: ReasonForget, Time: time.Date(2026, 12, 4, 1, 2, 3, 4, time.UTC), Host: "h", MAC: bytes.Repeat([]byte{1}, 32)}
	data, err := EncodeTombstone(good)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeTombstone(TombstoneName(obj), data)
	if err != nil || got.Object != obj || !got.Time.Equal(good.Time) || !bytes.Equal(TombstoneMACInput(got), TombstoneMACInput(good)) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	mut := func(f func(*Tombstone)) []byte {
		c := *good
		f(&c)
		b, _ := jsonMarshal(&c)
		return b
	}
	for what, b := range map[string][]byte{
		"unknown field":  bytes.Replace(data, []byte(`{`), []byte(`{"extra":1,`), 1),
		"trailing data":  append(append([]byte{}, data...), []byte(" {}")...),
		"version 2":      mut(func(c *Tombstone) { c.Version = 2 }),
		"unknown reason": mut(func(c *Tombstone) { c.Reason = "whim" }),
		"short mac":      mut(func(c *Tombstone) { c.MAC = c.MAC[:16] }),
		"config object":  mut(func(c *Tombstone) { c.Object = ConfigName }),
		"other object":   mut(func(c *Tombstone) { c.Object = SnapshotName(testID(5)) }),
		"too big":        append(data, bytes.Repeat([]byte(" "), MaxTombstoneSize)...),
	} {
		if _, err := DecodeTombstone(TombstoneName(obj), b); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v, want ErrFormat", what, err)
		}
	}
}
