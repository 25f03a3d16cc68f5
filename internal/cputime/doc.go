// Package cputime tells the CPU time the process has used, for benchmarks
// that report throughput per CPU second beside wall time (on a shared
// machine the wall time also counts the time spent waiting for a core).
package cputime
