package scheduler

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestStateRoundTrip(t *testing.T) {
	in := &State{Version: StateVersion, Jobs: map[string]JobState{
		"backup/home": {Spec: "0 2 * * *", LastStart: t0, LastEnd: t0.Add(time.Minute), LastSuccess: t0.Add(time.Minute), Result: ResultSuccess, Runs: 3},
		"check":       {Spec: "@daily", LastStart: t0, Result: ResultFailure, Error: "boom", Runs: 2, Failures: 2},
	}}
	data, err := EncodeState(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodeState(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n%+v\n%+v", in, out)
	}
}

func TestDecodeStateErrors(t *testing.T) {
	for _, tc := range []struct{ name, data string }{
		{"not json", "{"},
		{"wrong version", `{"version":2,"jobs":{}}`},
		{"no version", `{"jobs":{}}`},
		{"trailing data", `{"version":1,"jobs":{}} {}`},
		{"unknown result", `{"version":1,"jobs":{"a":{"spec":"@daily","result":"maybe"}}}`},
		{"negative runs", `{"version":1,"jobs":{"a":{"spec":"@daily","runs":-1}}}`},
		{"more failures than runs", `{"version":1,"jobs":{"a":{"spec":"@daily","runs":1,"failures":2}}}`},
		{"empty job name", `{"version":1,"jobs":{"":{"spec":"@daily"}}}`},
		{"bad time", `{"version":1,"jobs":{"a":{"last_start":"yesterday"}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeState([]byte(tc.data)); !errors.Is(err, ErrBadState) {
				t.Fatalf("DecodeState(%s) = %v, want ErrBadState", tc.data, err)
			}
		})
	}
}

func FuzzDecodeState(f *testing.F) {
	f.Add([]byte(`{"version":1,"jobs":{"a":{"spec":"@daily","last_start":"2024-01-01T00:00:00Z","result":"success","runs":1}}}`))
	f.Add([]byte(`{"version":1,"jobs":null}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeState(data)
		if err != nil {
			if !errors.Is(err, ErrBadState) {
				t.Fatalf("error does not wrap ErrBadState: %v", err)
			}
			return
		}
		enc, err := EncodeState(s)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := DecodeState(enc)
		if err != nil {
			t.Fatalf("re-decoding an encoded state: %v", err)
		}
		if len(s2.Jobs) != len(s.Jobs) {
			t.Fatalf("round trip lost jobs")
		}
	})
}
