package storagetest

import (
	"context"
	"errors"
	"testing"

	"lifeboat/storage"
)

// RunVersions runs the conformance suite of versioned storages
// (Capabilities().Versions): what Put and Delete leave as versions and
// delete markers, and how ListVersions, GetVersion and DeleteVersion treat
// them. newStorage returns a fresh, empty, versioned storage.
func RunVersions(t *testing.T, newStorage func(t *testing.T) storage.Storage) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s storage.Storage, v storage.Versions)
	}{
		{"History", testVersionsHistory},
		{"Prefix", testVersionsPrefix},
		{"Undelete", testVersionsUndelete},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStorage(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			v := s.Capabilities().Versions
			if v == nil {
				t.Fatal("Capabilities().Versions is nil")
			}
			tc.fn(t, s, v)
		})
	}
}

// ListAllVersions returns the versions under prefix, in listing order.
func ListAllVersions(t *testing.T, v storage.Versions, prefix string) []storage.VersionInfo {
	t.Helper()
	var out []storage.VersionInfo
	if err := v.ListVersions(context.Background(), prefix, func(vi storage.VersionInfo) error {
		out = append(out, vi)
		return nil
	}); err != nil {
		t.Fatalf("list versions %q: %v", prefix, err)
	}
	return out
}

func getVersion(t *testing.T, v storage.Versions, name, id string, off, length int64) string {
	t.Helper()
	body, err := v.GetVersion(context.Background(), name, id, off, length)
	if err != nil {
		t.Fatalf("get %s version %s: %v", name, id, err)
	}
	defer body.Close()
	var buf []byte
	p := make([]byte, 512)
	for {
		n, err := body.Read(p)
		buf = append(buf, p[:n]...)
		if err != nil {
			break
		}
	}
	return string(buf)
}

// testVersionsHistory: two puts and a delete leave two versions and a
// marker, newest first, the marker latest; each version reads (whole and
// ranged) as written; the marker does not read.
func testVersionsHistory(t *testing.T, s storage.Storage, v storage.Versions) {
	ctx := context.Background()
	PutString(t, s, "a/obj", "first version")
	PutString(t, s, "a/obj", "second")
	if err := s.Delete(ctx, "a/obj"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "a/obj"); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("stat after delete: %v, want ErrNotExist", err)
	}
	vs := ListAllVersions(t, v, "a/")
	if len(vs) != 3 {
		t.Fatalf("versions = %+v, want 3", vs)
	}
	m, v2, v1 := vs[0], vs[1], vs[2]
	if !m.DeleteMarker || !m.IsLatest || m.Name != "a/obj" {
		t.Fatalf("newest = %+v, want the latest delete marker", m)
	}
	if v2.DeleteMarker || v2.IsLatest || v2.Size != int64(len("second")) || v1.DeleteMarker || v1.IsLatest || v1.Size != int64(len("first version")) {
		t.Fatalf("versions = %+v, want second then first, noncurrent", vs)
	}
	if v1.ModTime.After(v2.ModTime) || v2.ModTime.After(m.ModTime) || v1.ModTime.IsZero() {
		t.Fatalf("version times %v, %v, %v: want the write times, oldest last", m.ModTime, v2.ModTime, v1.ModTime)
	}
	if got := getVersion(t, v, "a/obj", v1.VersionID, 0, -1); got != "first version" {
		t.Fatalf("first version reads %q", got)
	}
	if got := getVersion(t, v, "a/obj", v1.VersionID, 6, 4); got != "vers" {
		t.Fatalf("first version at 6, 4 bytes reads %q", got)
	}
	if got := getVersion(t, v, "a/obj", v2.VersionID, 0, -1); got != "second" {
		t.Fatalf("second version reads %q", got)
	}
	if body, err := v.GetVersion(ctx, "a/obj", m.VersionID, 0, -1); err == nil {
		body.Close()
		t.Fatal("a delete marker read as a version")
	}
}

// testVersionsPrefix: ListVersions keeps to its prefix and groups each
// name's versions.
func testVersionsPrefix(t *testing.T, s storage.Storage, v storage.Versions) {
	PutString(t, s, "p/a", "1")
	PutString(t, s, "q/b", "2")
	PutString(t, s, "p/a", "3")
	PutString(t, s, "p/c", "4")
	vs := ListAllVersions(t, v, "p/")
	var names []string
	for _, vi := range vs {
		names = append(names, vi.Name)
	}
	if len(vs) != 3 || names[0] != "p/a" || names[1] != "p/a" || names[2] != "p/c" {
		t.Fatalf("versions under p/ = %v, want p/a p/a p/c", names)
	}
	if !vs[0].IsLatest || vs[1].IsLatest || vs[0].Size != 1 {
		t.Fatalf("p/a versions = %+v, want the latest first", vs[:2])
	}
}

// testVersionsUndelete: removing the latest delete marker makes the
// version below it current again; removing every version removes the
// object.
func testVersionsUndelete(t *testing.T, s storage.Storage, v storage.Versions) {
	ctx := context.Background()
	PutString(t, s, "u", "old")
	PutString(t, s, "u", "new")
	if err := s.Delete(ctx, "u"); err != nil {
		t.Fatal(err)
	}
	vs := ListAllVersions(t, v, "u")
	if len(vs) != 3 {
		t.Fatalf("versions = %+v, want 3", vs)
	}
	if err := v.DeleteVersion(ctx, "u", vs[0].VersionID); err != nil {
		t.Fatalf("delete the marker: %v", err)
	}
	wantContent(t, s, "u", []byte("new"))
	if err := v.DeleteVersion(ctx, "u", vs[1].VersionID); err != nil {
		t.Fatalf("delete the newest version: %v", err)
	}
	wantContent(t, s, "u", []byte("old"))
	after := ListAllVersions(t, v, "u")
	if len(after) != 1 || !after[0].IsLatest || after[0].VersionID != vs[2].VersionID {
		t.Fatalf("versions = %+v, want the old one, latest", after)
	}
	if err := v.DeleteVersion(ctx, "u", vs[2].VersionID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "u"); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("stat after removing every version: %v", err)
	}
	if left := ListAllVersions(t, v, "u"); len(left) != 0 {
		t.Fatalf("versions left: %+v", left)
	}
}
