package main

import (
	"testing"

	"lifeboat/engine/format"
)

// TestModeString: ls -l's mode column, devices as b and c.
func TestModeString(t *testing.T) {
	for _, tc := range []struct {
		typ  string
		mode uint32
		want string
	}{
		{format.TypeFile, 0o644, "-rw-r--r--"},
		{format.TypeDir, 0o1777, "drwxrwxrwt"},
		{format.TypeDir, 0o1770, "drwxrwx--T"},
		{format.TypeFile, 0o4755, "-rwsr-xr-x"},
		{format.TypeFile, 0o6644, "-rwSr-Sr--"},
		{format.TypeSymlink, 0o777, "lrwxrwxrwx"},
		{format.TypeFIFO, 0o600, "prw-------"},
		{format.TypeSocket, 0o755, "srwxr-xr-x"},
		{format.TypeDev, 0o660, "brw-rw----"},
		{format.TypeCharDev, 0o666, "crw-rw-rw-"},
	} {
		if got := modeString(&format.Node{Type: tc.typ, Mode: tc.mode}); got != tc.want {
			t.Errorf("%s %04o: %q, want %q", tc.typ, tc.mode, got, tc.want)
		}
	}
}
