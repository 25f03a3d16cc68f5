//go:build !linux

package local

import "os"

// linkUnnamed links unnamed files only on Linux; elsewhere the caller copies.
func (s *localStorage) linkUnnamed(_ string, _ *os.File, _ int64) (string, error) { return "", nil }
