package repo

import "os"

// tempFile returns an unnamed temporary file in dir ("" for the system's):
// O_TMPFILE where the file system supports it, so the directory is not
// even touched (a backup of it would otherwise see its mtime change), and a
// local region on that file system can link it into place instead of
// copying it; else a file removed right after creation (its name has a "~",
// which no object name has, should dir be a region's). A crash leaves
// nothing behind.
func tempFile(dir string) (*os.File, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	if f, err := openUnnamed(dir); err == nil {
		return f, nil
	}
	f, err := os.CreateTemp(dir, ".lifeboat~pack-*")
	if err != nil {
		return nil, err
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
