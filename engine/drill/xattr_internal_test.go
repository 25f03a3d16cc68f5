//go:build linux

package drill

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"lifeboat/engine/format"
	"lifeboat/engine/fsmeta/fsmetatest"
)

// TestVerifyXattrs: the verifier finds a missing, a different and an
// extra attribute.
func TestVerifyXattrs(t *testing.T) {
	p := filepath.Join(fsmetatest.Mount(t, "tmpfs"), "f")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	fsmetatest.Setxattr(t, p, "user.a", []byte("1"))
	fsmetatest.Setxattr(t, p, "security.x", []byte("x"))
	v := newVerifier(nil, true)
	for _, tc := range []struct {
		name   string
		xattrs []format.Xattr
		ok     bool
	}{
		{"equal", []format.Xattr{{Name: "security.x", Value: []byte("x")}, {Name: "user.a", Value: []byte("1")}}, true},
		{"missing", []format.Xattr{{Name: "security.x", Value: []byte("x")}, {Name: "user.a", Value: []byte("1")}, {Name: "user.b", Value: []byte("2")}}, false},
		{"different", []format.Xattr{{Name: "security.x", Value: []byte("x")}, {Name: "user.a", Value: []byte("2")}}, false},
		{"extra user attribute", []format.Xattr{{Name: "security.x", Value: []byte("x")}}, false},
		{"extra security attribute is the system's", []format.Xattr{{Name: "user.a", Value: []byte("1")}}, true},
	} {
		err := v.xattrs(p, &format.Node{Name: "f", Type: format.TypeFile, Xattrs: tc.xattrs})
		var mm *mismatchError
		if (err == nil) != tc.ok || (err != nil && !errors.As(err, &mm)) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	// Not as root: security.* and trusted.* are not verified.
	if err := newVerifier(nil, false).xattrs(p, &format.Node{Name: "f", Type: format.TypeFile,
		Xattrs: []format.Xattr{{Name: "trusted.t", Value: []byte("t")}, {Name: "user.a", Value: []byte("1")}}}); err != nil {
		t.Errorf("non-root: %v", err)
	}
}
