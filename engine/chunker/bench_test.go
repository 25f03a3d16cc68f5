package chunker

import (
	"bytes"
	"errors"
	"io"
	"lifeboat/internal/cputime"
	"testing"
	"time"
)

// BenchmarkChunker chunks 64 MiB of random data with DefaultParams through
// Next (including the copy from the reader). It reports MB/s (10^6) via
// SetBytes and MiB/s as a custom metric.
func BenchmarkChunker(b *testing.B) {
	benchChunker(b, DefaultParams, 64<<20)
}

// BenchmarkChunkerSmall uses 2/8/64 KiB chunks, where per-chunk overhead and
// the shorter skipped prefix matter more.
func BenchmarkChunkerSmall(b *testing.B) {
	benchChunker(b, mediumP, 64<<20)
}

func benchChunker(b *testing.B, p Params, n int) {
	data := randomData(b, 42, n)
	g := NewGear(testSeed)
	c := New(nil, p, g)
	r := bytes.NewReader(data)
	b.SetBytes(int64(n))
	cpu0 := cputime.Used()
	for b.Loop() {
		r.Reset(data)
		c.Reset(r)
		for {
			_, err := c.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	reportMiBs(b, n, cpu0)
}

// reportMiBs reports MiB/s of wall time and, where measurable, MiB per CPU
// second of the process (less sensitive to a loaded machine).
func reportMiBs(b *testing.B, n int, cpu0 time.Duration) {
	mib := float64(n) * float64(b.N) / (1 << 20)
	b.ReportMetric(mib/b.Elapsed().Seconds(), "MiB/s")
	if cpu := cputime.Used() - cpu0; cpu > 0 {
		b.ReportMetric(mib/cpu.Seconds(), "MiB/cpu-s")
	}
}

// BenchmarkCutHash measures the raw rolling-hash scan with no skipped prefix
// and no cut (an all-hard mask over a Max-sized window).
func BenchmarkCutHash(b *testing.B) {
	data := randomData(b, 43, 1<<20)
	g := NewGear(testSeed)
	b.SetBytes(int64(len(data)))
	cpu0 := cputime.Used()
	for b.Loop() {
		var h uint64
		scan(data, &h, ^uint64(0), g)
	}
	reportMiBs(b, len(data), cpu0)
}
