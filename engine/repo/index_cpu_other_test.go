//go:build !unix

package repo

import "time"

// cpuTime is not measured here: benchmarks report the wall time only.
func cpuTime() time.Duration { return 0 }
