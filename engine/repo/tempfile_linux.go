package repo

import (
	"os"

	"golang.org/x/sys/unix"
)

// openUnnamed opens an unnamed (O_TMPFILE) file in dir, where the file
// system supports it.
func openUnnamed(dir string) (*os.File, error) {
	return os.OpenFile(dir, os.O_RDWR|unix.O_TMPFILE|unix.O_CLOEXEC, 0o600)
}
