package compress

import (
	"lifeboat/internal/cputime"
	"testing"
	"time"
)

const benchSize = 1 << 20

// reportMiBs reports MiB/s of wall time and, where measurable, MiB per CPU
// second of the process (less sensitive to a loaded machine).
func reportMiBs(b *testing.B, n int, cpu0 time.Duration) {
	mib := float64(n) * float64(b.N) / (1 << 20)
	b.ReportMetric(mib/b.Elapsed().Seconds(), "MiB/s")
	if cpu := cputime.Used() - cpu0; cpu > 0 {
		b.ReportMetric(mib/cpu.Seconds(), "MiB/cpu-s")
	}
}

// BenchmarkCompress compresses 1 MiB of log-like text and of random data at
// each level. Random data exercises the incompressible fast path.
func BenchmarkCompress(b *testing.B) {
	inputs := []struct {
		name string
		data []byte
	}{
		{"text", textData(b, 30, benchSize)},
		{"random", randomData(b, 30, benchSize)},
	}
	for _, in := range inputs {
		for _, l := range levels {
			b.Run(in.name+"/"+l.String(), func(b *testing.B) {
				dst := make([]byte, 0, benchSize+1024)
				var out []byte
				var ok bool
				b.SetBytes(int64(len(in.data)))
				cpu0 := cputime.Used()
				for b.Loop() {
					out, ok = Compress(dst[:0], in.data, l)
				}
				reportMiBs(b, len(in.data), cpu0)
				ratio := 1.0 // stored raw
				if ok {
					ratio = float64(len(out)) / float64(len(in.data))
				}
				b.ReportMetric(ratio, "ratio")
			})
		}
	}
}

// BenchmarkDecompress decompresses 1 MiB of log-like text compressed at
// each level.
func BenchmarkDecompress(b *testing.B) {
	text := textData(b, 31, benchSize)
	for _, l := range levels {
		b.Run("text/"+l.String(), func(b *testing.B) {
			c, ok := Compress(nil, text, l)
			if !ok {
				b.Fatal("not compressed")
			}
			dst := make([]byte, 0, benchSize+DecompressSlack)
			b.SetBytes(int64(len(text)))
			cpu0 := cputime.Used()
			for b.Loop() {
				if _, err := Decompress(dst[:0], c, benchSize); err != nil {
					b.Fatal(err)
				}
			}
			reportMiBs(b, len(text), cpu0)
		})
	}
}

// BenchmarkIncompressibleCheck measures the sampling check alone on 1 MiB of
// random data (the work Compress does before giving up on it).
func BenchmarkIncompressibleCheck(b *testing.B) {
	for _, in := range []struct {
		name string
		data []byte
	}{
		{"random", randomData(b, 32, benchSize)},
		{"text", textData(b, 32, benchSize)},
	} {
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			cpu0 := cputime.Used()
			for b.Loop() {
				worthCompressing(in.data)
			}
			reportMiBs(b, len(in.data), cpu0)
		})
	}
}
