package syncer

import (
	"bytes"
	"testing"
	"time"
)

func TestState(t *testing.T) {
	good := &State{Version: StateVersion, Region: "eu-1", Time: time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC), Host: "h"}
	data, err := EncodeState(good)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeState(data)
	if err != nil || *got != *good {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if StateName("eu-1") != "state/sync-eu-1" {
		t.Fatalf("StateName = %q", StateName("eu-1"))
	}
	if r, ok := regionOfState("state/sync-eu-1"); !ok || r != "eu-1" {
		t.Fatalf("regionOfState = %q, %v", r, ok)
	}
	for _, tc := range []struct {
		name string
		data string
	}{
		{"empty", ``},
		{"not json", `{`},
		{"unknown field", `{"version":1,"region":"a","time":"2030-01-02T03:04:05Z","host":"h","x":1}`},
		{"trailing data", `{"version":1,"region":"a","time":"2030-01-02T03:04:05Z","host":"h"} {}`},
		{"version", `{"version":2,"region":"a","time":"2030-01-02T03:04:05Z","host":"h"}`},
		{"no region", `{"version":1,"region":"","time":"2030-01-02T03:04:05Z","host":"h"}`},
		{"slash in region", `{"version":1,"region":"a/b","time":"2030-01-02T03:04:05Z","host":"h"}`},
		{"no time", `{"version":1,"region":"a","host":"h"}`},
		{"too big", `{"version":1,"region":"a","time":"2030-01-02T03:04:05Z","host":"` + string(bytes.Repeat([]byte("h"), maxStateSize)) + `"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if s, err := DecodeState([]byte(tc.data)); err == nil {
				t.Fatalf("decoded %+v", s)
			}
		})
	}
	if _, err := EncodeState(&State{Version: StateVersion, Region: "a"}); err == nil {
		t.Fatal("encoded a state without a time")
	}
}

func FuzzDecodeState(f *testing.F) {
	f.Add([]byte(`{"version":1,"region":"a","time":"2030-01-02T03:04:05Z","host":"h"}`))
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeState(data)
		if err != nil {
			return
		}
		again, err := EncodeState(s)
		if err != nil {
			t.Fatalf("decoded state does not encode: %v", err)
		}
		s2, err := DecodeState(again)
		if err != nil || !s2.Time.Equal(s.Time) || s2.Region != s.Region || s2.Host != s.Host {
			t.Fatalf("re-decode: %+v, %v (from %+v)", s2, err, s)
		}
	})
}
