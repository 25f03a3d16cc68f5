package backup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage/mem"
)

func TestFitFormat(t *testing.T) {
	h := format.ID{1}
	for _, v := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			_, rc := enginetest.Identity(t)
			r, err := repo.Init(context.Background(), mem.New(), repo.InitOptions{Recipient: rc, FormatVersion: v, PackSize: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			var notices []error
			b := &backuper{r: r, opts: Options{OnNotice: func(err error) { notices = append(notices, err) }}}
			for range 2 {
				n := format.Node{Name: "f", Type: format.TypeFile, Hash: &h, Flags: 0x10, Xattrs: []format.Xattr{{Name: "user.a", Value: []byte("1")}}}
				if err := b.fitFormat(&n); err != nil {
					t.Fatal(err)
				}
				if kept := n.Flags != 0 && len(n.Xattrs) == 1; kept != (v >= 3) {
					t.Fatalf("xattrs and flags kept: %v", kept)
				}
			}
			if wantNotices := map[bool]int{true: 1, false: 0}[v < 3]; len(notices) != wantNotices {
				t.Fatalf("%d notices, want %d: %v", len(notices), wantNotices, notices)
			}
			if v < 3 && !strings.Contains(notices[0].Error(), fmt.Sprintf("format version %d", v)) || v < 3 && !strings.Contains(notices[0].Error(), "lifeboat migrate") {
				t.Fatalf("notice %q names neither the version nor migrate", notices[0])
			}
			for _, n := range []format.Node{
				{Name: "caf\xe9", Type: format.TypeFile, Hash: &h},
				{Name: "l", Type: format.TypeSymlink, LinkTarget: "caf\xe9"},
			} {
				err := b.fitFormat(&n)
				if (v == 1) != errors.Is(err, format.ErrNotRepresentable) {
					t.Fatalf("%q -> %q: %v", n.Name, n.LinkTarget, err)
				}
				if err != nil && !strings.Contains(err.Error(), "lifeboat migrate") {
					t.Fatalf("refusal %q does not name lifeboat migrate", err)
				}
			}
			owner := format.Node{Name: "o", Type: format.TypeFile, Hash: &h, User: "j\xf6rg", Group: "staff"}
			if err := b.fitFormat(&owner); err != nil {
				t.Fatal(err)
			}
			if (owner.User == "") != (v == 1) || owner.Group != "staff" {
				t.Fatalf("owner names %q %q", owner.User, owner.Group)
			}
		})
	}
}
