package backup

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"lifeboat/engine/format"
	"lifeboat/engine/fsmeta"
)

// metaState is what a run knows about reading extended attributes and
// inode flags.
type metaState struct {
	// xattrs: read extended attributes (not Options.NoXattrs).
	xattrs bool
	// flags: read inode flags (the repository can store them).
	flags bool
	// parentFlags: the parent snapshot recorded inode flags, so an entry
	// unchanged since then keeps its parent's without being opened.
	parentFlags bool
	denied      sync.Once // the one notice about unreadable attributes
	listBufs    sync.Pool
}

// newMetaState decides what this run reads.
func newMetaState(storesExt bool, opts *Options) *metaState {
	m := &metaState{xattrs: !opts.NoXattrs, flags: storesExt}
	m.parentFlags = storesExt && opts.Parent != nil && opts.Parent.Snapshot != nil &&
		format.TreeEncodingFor(opts.Parent.Version).StoresExtensions()
	return m
}

// sameEntry reports whether n is the entry o of the parent snapshot with
// no change since: any change of an extended attribute or inode flag
// changes the ctime.
func sameEntry(o, n *format.Node) bool {
	return o != nil && o.Type == n.Type && !o.CTime.IsZero() && o.CTime.Equal(n.CTime) &&
		o.MTime.Equal(n.MTime) && o.Inode == n.Inode && o.Size == n.Size && o.DeviceID == n.DeviceID
}

// readXattrs fills n.Xattrs with the attributes of the entry at path. The
// names are listed every time (one system call; an empty list for most
// entries); the values of an entry unchanged since the parent snapshot o
// (same ctime) are taken from o. An attribute of the user namespace that
// cannot be read is a warning (the snapshot is partial); one of the
// privileged namespaces (security.*, trusted.*, system.*) the process may
// not read is left out with one notice per run.
func (b *backuper) readXattrs(path string, n, o *format.Node) {
	m := b.meta
	if !m.xattrs {
		return
	}
	bp, _ := m.listBufs.Get().(*[]byte)
	if bp == nil {
		buf := make([]byte, 1024)
		bp = &buf
	}
	names, err := fsmeta.ListXattrs(path, *bp)
	m.listBufs.Put(bp)
	if err != nil {
		b.warn(path, err)
		return
	}
	if len(names) == 0 {
		return
	}
	slices.Sort(names)
	names = slices.Compact(names)
	if sameEntry(o, n) && len(o.Xattrs) == len(names) {
		same := true
		for i := range names {
			if o.Xattrs[i].Name != names[i] {
				same = false
				break
			}
		}
		if same {
			n.Xattrs = o.Xattrs
			return
		}
	}
	attrs := make([]format.Xattr, 0, len(names))
	for _, name := range names {
		v, err := fsmeta.GetXattr(path, name)
		switch {
		case err == nil:
			attrs = append(attrs, format.Xattr{Name: name, Value: v})
		case errors.Is(err, unix.ENODATA):
			// removed since the listing
		case fsmeta.IsPermission(err) && !strings.HasPrefix(name, "user."):
			m.denied.Do(func() {
				if b.opts.OnNotice != nil {
					b.opts.OnNotice(fmt.Errorf("%s: %w; extended attributes this process may not read (security.*, trusted.*, system.*) are not backed up (run as root to include them)", path, err))
				}
			})
		default:
			b.warn(path, err)
		}
	}
	if len(attrs) > 0 {
		n.Xattrs = attrs
	}
}

// readFlags fills n.Flags from the open descriptor fd of the entry.
func (b *backuper) readFlags(path string, fd int, n *format.Node) {
	if !b.meta.flags {
		return
	}
	f, err := fsmeta.Flags(fd)
	if err != nil {
		b.warn(path, err)
		return
	}
	n.Flags = f
}

// reuseFlags takes the inode flags of an entry unchanged since the parent
// snapshot o from o, and reports whether it could.
func (b *backuper) reuseFlags(n, o *format.Node) bool {
	if !b.meta.flags {
		return true
	}
	if b.meta.parentFlags && sameEntry(o, n) {
		n.Flags = o.Flags
		return true
	}
	return false
}

// openFlags reads the inode flags of a regular file or directory that is
// not opened otherwise (an unchanged file whose parent snapshot has no
// flags recorded).
func (b *backuper) openFlags(path string, n *format.Node) {
	if !b.meta.flags {
		return
	}
	fd, err := openRetry(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK|noAtime)
	if errors.Is(err, unix.EPERM) {
		fd, err = openRetry(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK)
	}
	if err != nil {
		b.warn(path, fmt.Errorf("read inode flags: %w", err))
		return
	}
	defer unix.Close(fd)
	b.readFlags(path, fd, n)
}
