package backup

// SetOpenHookForTest makes f run before each source file is opened (its
// error fails the open) and returns a function that removes it.
func SetOpenHookForTest(f func(path string) error) func() {
	old := openHook
	openHook = f
	return func() { openHook = old }
}
