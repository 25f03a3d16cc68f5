//go:build !unix

package check_test

import "time"

// cpuTime is not available on this platform; CPU-time metrics report 0.
func cpuTime() time.Duration { return 0 }
