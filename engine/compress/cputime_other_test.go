//go:build !unix

package compress

import "time"

// cpuTime is not available on this platform; CPU-time metrics report 0.
func cpuTime() time.Duration { return 0 }
