package config

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	if ex, err := os.ReadFile("example.yaml"); err == nil {
		f.Add(ex)
	}
	f.Add([]byte(fullYAML))
	f.Add([]byte(hdr))
	f.Add([]byte(hdr + "    bukket: x\n"))
	f.Add([]byte("version: 1\nx-d: &d {timeout: 1s}\nregions:\n  - {name: a, type: s3, <<: *d}\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("- !!binary x\n"))
	f.Add([]byte("{version: 1, regions: [{name: a, type: local, path: ~/x}]}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := fakeHome.Parse("f.yaml", data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not a *config.Error", err, err)
			}
			if !strings.HasPrefix(err.Error(), "f.yaml") {
				t.Fatalf("error %q does not name the file", err.Error())
			}
			return
		}
		if cfg.Version != 1 || len(cfg.Regions) == 0 {
			t.Fatalf("accepted config without version or regions: %+v", cfg)
		}
		// A valid config survives a round trip unchanged.
		out, err := cfg.Marshal()
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		again, err := fakeHome.Parse("f.yaml", out)
		if err != nil {
			t.Fatalf("re-parse of marshaled config failed: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(again, cfg) {
			t.Fatalf("round trip changed the config\n got %s\nwant %s\nyaml:\n%s", dump(again), dump(cfg), out)
		}
	})
}

func FuzzParseCredentials(f *testing.F) {
	f.Add([]byte("access_key_id=AK\nsecret_access_key=SK\n"))
	f.Add([]byte("# c\naccess_key_id = A\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ak, sk, err := ParseCredentials(data)
		if err == nil && (ak == "" || sk == "") {
			t.Fatalf("accepted empty key: %q %q", ak, sk)
		}
	})
}

// FuzzUnits checks that every accepted value formats back to itself.
func FuzzUnits(f *testing.F) {
	for _, s := range []string{"16MiB", "1.5KB", "7d", "1d12h", "250ms", "10%", "full", "2.5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v, err := ParseSize(s); err == nil {
			if back, err := ParseSize(v.String()); err != nil || back != v {
				t.Fatalf("size %q -> %d -> %q -> %d, %v", s, v, v.String(), back, err)
			}
		}
		if v, err := ParseDuration(s); err == nil {
			if v < 0 {
				t.Fatalf("negative duration from %q", s)
			}
			if back, err := ParseDuration(v.String()); err != nil || back != v {
				t.Fatalf("duration %q -> %d -> %q -> %d, %v", s, v, v.String(), back, err)
			}
		}
		if v, err := ParsePercent(s); err == nil {
			if v < 0 || v > 100 {
				t.Fatalf("percent %q -> %v out of range", s, v)
			}
			if back, err := ParsePercent(v.String()); err != nil || back != v {
				t.Fatalf("percent %q -> %v -> %q -> %v, %v", s, v, v.String(), back, err)
			}
		}
	})
}
