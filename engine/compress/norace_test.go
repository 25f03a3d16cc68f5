//go:build !race

package compress

// raceEnabled reports that the race detector is on.
const raceEnabled = false
