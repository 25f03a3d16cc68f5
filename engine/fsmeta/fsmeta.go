package fsmeta

import (
	"errors"
	"fmt"
)

// ErrNotSupported is returned where this system has no such call.
var ErrNotSupported = fmt.Errorf("extended attributes and inode flags: %w", errors.ErrUnsupported)

// Inode flags (FS_IOC_GETFLAGS, as chattr names them) that Flags keeps.
// Other bits describe how a file system stores the file (extents, inline
// data, …), are set by the file system itself, and are not restorable.
const (
	FlagSync        uint32 = 0x00000008 // S: synchronous updates
	FlagImmutable   uint32 = 0x00000010 // i: immutable
	FlagAppend      uint32 = 0x00000020 // a: append only
	FlagNoDump      uint32 = 0x00000040 // d: no dump
	FlagNoAtime     uint32 = 0x00000080 // A: no atime updates
	FlagDirSync     uint32 = 0x00010000 // D: synchronous directory updates
	FlagNoCOW       uint32 = 0x00800000 // C: no copy on write
	FlagProjInherit uint32 = 0x20000000 // P: project hierarchy
)

// FlagMask holds every flag this package reads and writes.
const FlagMask = FlagSync | FlagImmutable | FlagAppend | FlagNoDump | FlagNoAtime | FlagDirSync | FlagNoCOW | FlagProjInherit

// FlagString returns flags in chattr's letters ("ia" for immutable and
// append only), in lsattr's order.
func FlagString(flags uint32) string {
	letters := []struct {
		bit uint32
		c   byte
	}{{FlagSync, 'S'}, {FlagImmutable, 'i'}, {FlagAppend, 'a'}, {FlagNoDump, 'd'}, {FlagNoAtime, 'A'},
		{FlagDirSync, 'D'}, {FlagNoCOW, 'C'}, {FlagProjInherit, 'P'}}
	var out []byte
	for _, l := range letters {
		if flags&l.bit != 0 {
			out = append(out, l.c)
		}
	}
	if rest := flags &^ FlagMask; rest != 0 {
		out = fmt.Appendf(out, "+%#x", rest)
	}
	return string(out)
}
