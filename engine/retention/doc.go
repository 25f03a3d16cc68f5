// Package retention decides which snapshots a retention policy keeps.
//
// It is pure: no storage, no clock, no I/O. Apply takes the snapshots,
// a Policy, the storage time now and the policy zone.
package retention
