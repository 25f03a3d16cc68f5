package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestObjectLockParse(t *testing.T) {
	cfg, err := fakeHome.Parse("lifeboat.yaml", []byte(hdr+"    object_lock: { mode: COMPLIANCE, period: 14d }\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := &ObjectLock{Mode: LockCompliance, Period: Duration(14 * 24 * time.Hour)}
	if got := cfg.Region("eu").S3.ObjectLock; !reflect.DeepEqual(got, want) {
		t.Fatalf("object_lock = %+v, want %+v", got, want)
	}
	out, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	again, err := fakeHome.Parse("lifeboat.yaml", out)
	if err != nil {
		t.Fatalf("Parse(Marshal()): %v\n%s", err, out)
	}
	if got := again.Region("eu").S3.ObjectLock; !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip: %+v, want %+v\n%s", got, want, out)
	}
	if cfg.Region("home").S3 != nil {
		t.Fatal("local region got s3 settings")
	}
}

func TestObjectLockMalformed(t *testing.T) {
	tests := []struct {
		name, yaml, field, msg string
	}{
		{"no mode", hdr + "    object_lock: { period: 14d }\n", "regions[1].object_lock.mode", "required"},
		{"bad mode", hdr + "    object_lock: { mode: strict, period: 14d }\n", "regions[1].object_lock.mode", "unknown object lock mode"},
		{"no period", hdr + "    object_lock: { mode: governance }\n", "regions[1].object_lock.period", "required"},
		{"zero period", hdr + "    object_lock: { mode: governance, period: 0s }\n", "regions[1].object_lock.period", "positive"},
		{"unknown key", hdr + "    object_lock: { mode: governance, period: 1d, days: 3 }\n", "regions[1].object_lock.days", "unknown field"},
		{"null", hdr + "    object_lock:\n", "regions[1].object_lock", "got null"},
		{"on a local region", "version: 1\nregions:\n  - name: home\n    type: local\n    path: /srv\n    object_lock: { mode: compliance, period: 1d }\n", "regions[0].object_lock", "not valid for a local region"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fakeHome.Parse("lifeboat.yaml", []byte(tt.yaml))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse: %v, want a *config.Error", err)
			}
			if e.Field != tt.field || !strings.Contains(e.Msg, tt.msg) {
				t.Fatalf("got field %q msg %q, want %q with %q", e.Field, e.Msg, tt.field, tt.msg)
			}
		})
	}
}
