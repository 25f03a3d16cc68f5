package config

import (
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want Size
		ok   bool
	}{
		{"0", 0, true},
		{"1048576", 1 << 20, true},
		{"512B", 512, true},
		{"16MiB", 16 << 20, true},
		{"16 MiB", 16 << 20, true},
		{"16mib", 16 << 20, true},
		{"4KiB", 4096, true},
		{"2GiB", 2 << 30, true},
		{"1TiB", 1 << 40, true},
		{"5KB", 5000, true},
		{"5MB", 5000000, true},
		{"1GB", 1000000000, true},
		{"1.5KiB", 1536, true},
		{"0.5MB", 500000, true},
		{"1.3B", 0, false},
		{"", 0, false},
		{"MiB", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{"1e3", 0, false},
		{"1.", 0, false},
		{".5MB", 0, false},
		{"12Q", 0, false},
		{"16 M iB", 0, false},
		{"9223372036854775807", 1<<63 - 1, true},
		{"9223372036854775808", 0, false},
		{"9000000000GiB", 0, false},
		{"99999999999.5GiB", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("ParseSize(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestSizeString(t *testing.T) {
	tests := []struct {
		in   Size
		want string
	}{
		{0, "0B"}, {1000, "1000B"}, {1024, "1KiB"}, {16 << 20, "16MiB"}, {3 << 30, "3GiB"},
		{5 << 40, "5TiB"}, {1536, "1536B"}, {1<<20 + 1, "1048577B"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
		if back, err := ParseSize(tt.want); err != nil || back != tt.in {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.want, back, err, tt.in)
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{"30s", 30 * time.Second, true},
		{"1h30m", 90 * time.Minute, true},
		{"7d", 7 * day, true},
		{"1d12h", 36 * time.Hour, true},
		{"1.5d", 36 * time.Hour, true},
		{"250ms", 250 * time.Millisecond, true},
		{"2h1d", 26 * time.Hour, true},
		{"30", 0, false},
		{"", 0, false},
		{"-1h", 0, false},
		{"+1h", 0, false},
		{"7x", 0, false},
		{"d", 0, false},
		{"1dd", 0, false},
		{"1.d", 0, false},
		{"200000d", 0, false},
		{"106751d", 106751 * day, true}, // the int64 range ends at ~106751.99 days
		{"106752d", 0, false},
		{"106750d23h", 106750*day + 23*time.Hour, true},
		{"106751d23h59m", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if (err == nil) != tt.ok || got.Std() != tt.want {
				t.Fatalf("ParseDuration(%q) = %v, %v; want %v, ok=%v", tt.in, got.Std(), err, tt.want, tt.ok)
			}
		})
	}
}

func TestDurationString(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"}, {30 * time.Second, "30s"}, {90 * time.Minute, "1h30m"}, {6 * time.Hour, "6h"},
		{7 * day, "7d"}, {26 * time.Hour, "1d2h"}, {day + 90*time.Second, "1d1m30s"},
		{day + time.Second, "1d1s"}, {1500 * time.Millisecond, "1.5s"},
	}
	for _, tt := range tests {
		if got := Duration(tt.in).String(); got != tt.want {
			t.Errorf("Duration(%v).String() = %q, want %q", tt.in, got, tt.want)
		}
		if back, err := ParseDuration(tt.want); err != nil || back.Std() != tt.in {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.want, back.Std(), err, tt.in)
		}
	}
}

func TestParsePercent(t *testing.T) {
	tests := []struct {
		in   string
		want Percent
		ok   bool
	}{
		{"10%", 10, true},
		{"10", 10, true},
		{"2.5%", 2.5, true},
		{"0", 0, true},
		{"100%", 100, true},
		{"full", 100, true},
		{"FULL", 100, true},
		{" 5 % ", 5, true},
		{"100.1", 0, false},
		{"-1%", 0, false},
		{"%", 0, false},
		{"", 0, false},
		{"NaN", 0, false},
		{"1e2", 0, false},
		{"half", 0, false},
		{"10%%", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePercent(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("ParsePercent(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
	if f := Percent(25).Fraction(); f != 0.25 {
		t.Errorf("Fraction = %v", f)
	}
	if s := Percent(12.5).String(); s != "12.5%" {
		t.Errorf("String = %q", s)
	}
}

// TestUnitsInYAML checks the YAML forms: numbers, strings, tags and null.
func TestUnitsInYAML(t *testing.T) {
	src := hdr + `repository:
  pack_size: 2097152
drills:
  - name: a
    sample: 50
    rto: 0
  - name: b
    sample: !!str 7.5
    rpo:
  - name: c
    sample: |
      full
`
	cfg, err := fakeHome.Parse("/l.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Repository.PackSize != 2<<20 {
		t.Errorf("pack size %d", cfg.Repository.PackSize)
	}
	d := cfg.Drills
	if d[0].Sample != 50 || d[0].RTO != 0 || d[1].Sample != 7.5 || d[1].RPO != 0 || d[2].Sample != 100 {
		t.Errorf("drills %+v", d)
	}
}
