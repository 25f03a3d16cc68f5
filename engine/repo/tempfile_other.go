//go:build !linux

package repo

import (
	"errors"
	"os"
)

// openUnnamed reports that unnamed files are a Linux feature; tempFile then
// creates a named file and removes its name at once.
func openUnnamed(string) (*os.File, error) {
	return nil, errors.New("unnamed temporary files need Linux")
}
