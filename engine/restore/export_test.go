package restore

// TempPrefix starts every temporary name.
const TempPrefix = tempPrefix

// SetNamedOnly makes restores use named temporary files only, as on
// systems without unnamed ones, until the returned function is called.
func SetNamedOnly() (undo func()) {
	old := namedOnly.Swap(true)
	return func() { namedOnly.Store(old) }
}
