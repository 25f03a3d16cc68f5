package backup

import "os"

// SetOpenFileForTest replaces the function that opens source files and
// returns a function that restores it.
func SetOpenFileForTest(f func(name string, flag int, perm os.FileMode) (*os.File, error)) func() {
	old := openFile
	openFile = f
	return func() { openFile = old }
}
