//go:build !race

package check_test

// raceEnabled reports that the race detector is on.
const raceEnabled = false
