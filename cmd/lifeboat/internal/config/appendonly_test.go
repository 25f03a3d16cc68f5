package config

import "testing"

// append_only is read for the host (repository:) and per region; either
// makes the host append-only, and both survive Marshal.
func TestAppendOnly(t *testing.T) {
	for _, tt := range []struct {
		name, yaml string
		want       bool
	}{
		{"neither", hdr, false},
		{"host", hdr + "repository:\n  append_only: true\n", true},
		{"region", hdr + "    append_only: true\n", true},
		{"local region", "version: 1\nregions:\n  - name: home\n    type: local\n    path: /srv/home\n    append_only: true\n", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := fakeHome.Parse("lifeboat.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.AppendOnly(); got != tt.want {
				t.Fatalf("AppendOnly() = %v, want %v", got, tt.want)
			}
			out, err := cfg.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			again, err := fakeHome.Parse("lifeboat.yaml", out)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if again.AppendOnly() != tt.want || again.Repository.AppendOnly != cfg.Repository.AppendOnly {
				t.Fatalf("after Marshal: %s", out)
			}
			for i := range cfg.Regions {
				if again.Regions[i].AppendOnly != cfg.Regions[i].AppendOnly {
					t.Fatalf("region %s: append_only lost by Marshal:\n%s", cfg.Regions[i].Name, out)
				}
			}
		})
	}
}
