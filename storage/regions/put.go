package regions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"lifeboat/storage"
)

// rollbackTimeout bounds the deletes that undo a failed conditional create;
// they run even when the caller's context has ended.
const rollbackTimeout = 30 * time.Second

func byteReader(b []byte) io.ReadSeeker { return bytes.NewReader(b) }

// putRegion writes one region and records the outcome.
func (s *Set) putRegion(ctx context.Context, r *region, name string, body io.ReadSeeker, size int64, opt storage.PutOptions) error {
	// A region whose breaker is open because it stopped answering is not
	// written until its cooldown has passed (then one write is its trial):
	// it is behind, and waiting for its timeouts on every object would
	// stall the whole backup. One that answers, but served bad content,
	// is written: rewriting its bad copies (repair) is what heals it.
	r.mu.Lock()
	skip := r.open && r.silent && s.now().Before(r.openedAt.Add(s.cooldown))
	failures := r.consecutive
	r.mu.Unlock()
	if skip {
		return fmt.Errorf("not written while the region is unavailable (%d consecutive failures): %w", failures, ErrUnavailable)
	}
	start := s.now()
	err := r.st.Put(ctx, name, body, size, opt)
	s.observe(ctx, r, opWrite, s.now().Sub(start), err)
	if err == nil {
		r.caughtUp(name)
	}
	return err
}

// Put writes name to every region and succeeds when at least WriteQuorum
// of them accepted it. See the package documentation for the rules,
// especially for PutOptions.IfNotExists.
func (s *Set) Put(ctx context.Context, name string, r io.ReadSeeker, size int64, opt storage.PutOptions) error {
	return s.put(ctx, s.static, name, r, size, opt)
}

// put writes name to the regions regs (in static order, at least one) and
// succeeds when at least WriteQuorum of them accepted it.
func (s *Set) put(ctx context.Context, regs []*region, name string, r io.ReadSeeker, size int64, opt storage.PutOptions) error {
	if err := storage.CheckName(name); err != nil {
		return fmt.Errorf("regions put: %w", err)
	}
	if size < 0 {
		return fmt.Errorf("regions put %s: negative size %d", name, size)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("regions put %s: %w", name, err)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("regions put %s: rewind body: %w", name, err)
	}
	var body func() (io.ReadSeeker, error)
	parallel := size <= s.bufLimit
	exact := bodySize(r) == size
	if exact && len(regs) == 1 {
		// One region: hand the caller's reader straight through.
		parallel = true
		body = func() (io.ReadSeeker, error) {
			_, err := r.Seek(0, io.SeekStart)
			return r, err
		}
	} else if ra, isRA := r.(io.ReaderAt); isRA && exact {
		// Random access (a bytes.Reader, a file): every region reads its
		// own section of the same bytes, with no copy.
		parallel = true
		body = func() (io.ReadSeeker, error) { return io.NewSectionReader(ra, 0, size), nil }
	} else if parallel {
		buf := make([]byte, size)
		if _, err := io.ReadFull(r, buf); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("regions put %s: read %d-byte body: %w", name, size, err)
		}
		body = func() (io.ReadSeeker, error) { return bytes.NewReader(buf), nil }
	} else {
		first := true
		body = func() (io.ReadSeeker, error) {
			if !first {
				if _, err := r.Seek(0, io.SeekStart); err != nil {
					return nil, fmt.Errorf("rewind body: %w", err)
				}
			}
			first = false
			return r, nil
		}
	}

	results := make([]error, len(regs))
	run := func(i int, rd io.ReadSeeker) {
		results[i] = s.putRegion(ctx, regs[i], name, rd, size, opt)
	}
	next := 0
	if opt.IfNotExists {
		// The arbiter serialises concurrent conditional creates.
		rd, err := body()
		if err != nil {
			return fmt.Errorf("regions put %s: %w", name, err)
		}
		run(0, rd)
		if errors.Is(results[0], storage.ErrExist) {
			return fmt.Errorf("regions put %s: region %s: %w", name, regs[0].name, results[0])
		}
		next = 1
	}
	if parallel {
		var wg sync.WaitGroup
		for i := next; i < len(regs); i++ {
			rd, _ := body()
			wg.Add(1)
			go func() {
				defer wg.Done()
				run(i, rd)
			}()
		}
		wg.Wait()
	} else {
		for i := next; i < len(regs); i++ {
			rd, err := body()
			if err != nil {
				results[i] = err
				continue
			}
			run(i, rd)
		}
	}

	var ok []*region
	var exists, fails []error
	var failed []*region
	for i, err := range results {
		switch {
		case err == nil:
			ok = append(ok, regs[i])
		case opt.IfNotExists && errors.Is(err, storage.ErrExist):
			exists = append(exists, fmt.Errorf("region %s: %w", regs[i].name, err))
		default:
			fails = append(fails, fmt.Errorf("region %s: %w", regs[i].name, err))
			failed = append(failed, regs[i])
			s.emit(EventRegionFailed, regs[i], name, err)
		}
	}
	quorumErr := func(note string) error {
		return fmt.Errorf("regions put %s: %d of %d regions succeeded, need %d%s: %w: %w",
			name, len(ok), len(regs), s.quorum, note, ErrQuorum, ctxErr(ctx, errors.Join(fails...)))
	}
	if opt.IfNotExists && (len(exists) > 0 || len(ok) < s.quorum) {
		note := ""
		if s.isAppendOnly() {
			// No deletes: the copies stay, for a trusted host (see
			// the package documentation).
			if len(ok) > 0 {
				note = fmt.Sprintf(" (append-only: the copies in %s stay)", strings.Join(regionNames(ok), ", "))
				for _, r := range failed {
					r.markBehind(name)
				}
			}
		} else if err := s.rollback(ctx, ok, name); err != nil {
			note = fmt.Sprintf(" (undoing the create failed: %v)", err)
		}
		if len(exists) > 0 {
			return fmt.Errorf("regions put %s%s: %w", name, note, errors.Join(exists...))
		}
		return quorumErr(note)
	}
	if len(ok) > 0 {
		for _, r := range failed {
			r.markBehind(name)
		}
	}
	if len(ok) < s.quorum {
		return quorumErr("")
	}
	return nil
}

// rollback deletes name from the regions where a failed conditional create
// created it.
func (s *Set) rollback(ctx context.Context, created []*region, name string) error {
	if len(created) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	var errs []error
	for _, r := range created {
		start := s.now()
		err := r.st.Delete(ctx, name)
		s.observe(ctx, r, opWrite, s.now().Sub(start), err)
		if err != nil && !errors.Is(err, storage.ErrNotExist) {
			errs = append(errs, fmt.Errorf("region %s: %w", r.name, err))
		}
	}
	return errors.Join(errs...)
}

// bodySize returns the length of a body that knows it (a bytes.Reader, a
// strings.Reader, a file), or -1.
func bodySize(r io.ReadSeeker) int64 {
	switch b := r.(type) {
	case interface{ Size() int64 }:
		return b.Size()
	case *os.File:
		if fi, err := b.Stat(); err == nil && fi.Mode().IsRegular() {
			return fi.Size()
		}
	}
	return -1
}
