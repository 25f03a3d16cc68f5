package backup

import (
	"fmt"
	"unicode/utf8"

	"lifeboat/engine/format"
)

// fitFormat makes n storable in the repository's format version, or says
// why it cannot be stored unchanged: then the entry is left out of the
// snapshot with a warning (the snapshot is partial), never stored altered.
//
//   - Extended attributes and inode flags, which format versions 1 and 2
//     cannot hold, are dropped, with one notice per run (OnNotice) that
//     names the version and `lifeboat migrate`: an older format lacks the
//     feature, and the entry itself is stored exactly, so the snapshot is
//     not partial.
//   - In a version 1 repository (JSON trees, UTF-8 text only), an owner
//     name that is not UTF-8 is dropped (the numeric uid and gid stay), and
//     an entry whose name or symlink target is not UTF-8 is refused: JSON
//     would replace its invalid bytes with U+FFFD, and two such names could
//     collide.
func (b *backuper) fitFormat(n *format.Node) error {
	v := b.r.FormatVersion()
	enc := format.TreeEncodingFor(v)
	if !enc.StoresExtensions() && (len(n.Xattrs) > 0 || n.Flags != 0) {
		n.Xattrs, n.Flags = nil, 0
		b.extDropped.Do(func() {
			if b.opts.OnNotice != nil {
				b.opts.OnNotice(fmt.Errorf("extended attributes and inode flags not stored: the repository has format version %d, which cannot hold them; run lifeboat migrate to raise it to %d", v, format.Version))
			}
		})
	}
	if !enc.StoresBytes() {
		if !utf8.ValidString(n.User) {
			n.User = ""
		}
		if !utf8.ValidString(n.Group) {
			n.Group = ""
		}
	}
	if err := enc.CheckNode(n); err != nil {
		return fmt.Errorf("not backed up: the repository has format version %d, which cannot store it unchanged (run lifeboat migrate to raise it to %d): %w", v, format.Version, err)
	}
	return nil
}
