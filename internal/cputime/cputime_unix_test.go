//go:build unix

package cputime

import "testing"

func TestUsedGrows(t *testing.T) {
	before := Used()
	x := 0
	for i := range 50_000_000 {
		x ^= i * 31
	}
	if x == 42 {
		t.Log(x)
	}
	if after := Used(); after <= before {
		t.Fatalf("CPU time did not grow: %v then %v", before, after)
	}
}
