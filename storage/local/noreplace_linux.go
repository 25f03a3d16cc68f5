package local

import (
	"fmt"
	"os"
	"path"

	"golang.org/x/sys/unix"
)

// renameNoReplace renames tmp to name, both in directory dir of root,
// failing with EEXIST when name exists. It opens dir through root, so the
// single-segment names cannot escape it.
func renameNoReplace(root *os.Root, dir, tmp, name string) error {
	d, err := root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	fd := int(d.Fd())
	if err := unix.Renameat2(fd, path.Base(tmp), fd, path.Base(name), unix.RENAME_NOREPLACE); err != nil {
		return &os.LinkError{Op: "renameat2", Old: tmp, New: name, Err: fmt.Errorf("no-replace rename: %w", err)}
	}
	return nil
}
