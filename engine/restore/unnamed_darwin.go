package restore

import (
	"errors"

	"golang.org/x/sys/unix"
)

// There are no unnamed files: every temporary file has a random name.
var linkMethods []linkMethod

func openUnnamed(int, uint32) (int, error) { return -1, errors.ErrUnsupported }

func unnamedUnsupported(error) bool { return true }

func linkUnnamed(linkMethod, int, int, string) error { return errors.ErrUnsupported }

// renameNoReplace renames from to to in dfd, failing with EEXIST when to
// exists.
func renameNoReplace(dfd int, from, to string) error {
	err := unix.RenameatxNp(dfd, from, dfd, to, unix.RENAME_EXCL)
	if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EINVAL) {
		return renameIfAbsent(dfd, from, to)
	}
	return err
}
