//go:build !linux

package local

import (
	"errors"
	"fmt"
	"os"
)

// renameNoReplace is only available on Linux; elsewhere a filesystem without
// hard links cannot create objects exclusively.
func renameNoReplace(_ *os.Root, _, tmp, name string) error {
	return &os.LinkError{Op: "rename", Old: tmp, New: name, Err: fmt.Errorf("exclusive create needs hard links on this platform: %w", errors.ErrUnsupported)}
}
