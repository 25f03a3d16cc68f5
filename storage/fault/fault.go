package fault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"lifeboat/storage"
)

// ErrInjected is a ready-made error for rules; wrap it with
// storage.MarkTransient for a retryable failure.
var ErrInjected = errors.New("injected fault")

// Op names a storage operation.
type Op int

// The operations rules can match.
const (
	OpGet Op = iota
	OpStat
	OpList
	OpPut
	OpDelete
	numOps
)

// String returns the operation's lowercase name.
func (op Op) String() string {
	switch op {
	case OpGet:
		return "get"
	case OpStat:
		return "stat"
	case OpList:
		return "list"
	case OpPut:
		return "put"
	case OpDelete:
		return "delete"
	}
	return fmt.Sprintf("op(%d)", int(op))
}

// Any matches every name.
func Any(string) bool { return true }

// Exact matches exactly the given names.
func Exact(names ...string) func(string) bool {
	return func(name string) bool {
		for _, n := range names {
			if n == name {
				return true
			}
		}
		return false
	}
}

// Prefix matches names starting with prefix.
func Prefix(prefix string) func(string) bool {
	return func(name string) bool { return strings.HasPrefix(name, prefix) }
}

type kind int

const (
	failBefore kind = iota
	failAfter
	corrupt
	truncate
	delay
	blackhole
)

// Rule is one installed fault. Its methods adjust or remove it.
type Rule struct {
	s       *Storage
	kind    kind
	op      Op
	match   func(string) bool
	err     error
	n       int64
	d       time.Duration
	limit   int // < 0: unlimited
	perName bool
	used    map[string]int
	hits    int
}

// Times limits the rule to n firings (n < 0: unlimited, 0: never), counted
// in total or, after PerName, per name. It returns r.
func (r *Rule) Times(n int) *Rule {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	r.limit = n
	return r
}

// PerName makes the rule's limit count separately for every name, so
// "fail twice" means every name fails its first two calls. It returns r.
func (r *Rule) PerName() *Rule {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	r.perName = true
	r.used = map[string]int{}
	return r
}

// Hits reports how many times the rule has fired.
func (r *Rule) Hits() int {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	return r.hits
}

// Remove uninstalls the rule.
func (r *Rule) Remove() {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	for i, x := range r.s.rules {
		if x == r {
			r.s.rules = append(r.s.rules[:i:i], r.s.rules[i+1:]...)
			return
		}
	}
}

// fire reports whether r applies to a call of op on name and, if so,
// consumes one firing. The caller holds s.mu.
func (r *Rule) fire(op Op, name string) bool {
	if r.op != op || !r.match(name) {
		return false
	}
	if r.perName {
		if r.limit >= 0 && r.used[name] >= r.limit {
			return false
		}
		r.used[name]++
	} else if r.limit >= 0 && r.hits >= r.limit {
		return false
	}
	r.hits++
	return true
}

// Storage is a fault-injecting storage.Storage wrapper.
type Storage struct {
	inner storage.Storage
	mu    sync.Mutex
	rules []*Rule
	calls [numOps]atomic.Int64
}

var (
	_ storage.Storage   = (*Storage)(nil)
	_ storage.Unwrapper = (*Storage)(nil)
)

// New wraps inner with no rules.
func New(inner storage.Storage) *Storage {
	return &Storage{inner: inner}
}

// Unwrap returns the wrapped storage.
func (s *Storage) Unwrap() storage.Storage { return s.inner }

func (s *Storage) add(r *Rule) *Rule {
	if r.match == nil {
		r.match = Any
	}
	r.s = s
	s.mu.Lock()
	s.rules = append(s.rules, r)
	s.mu.Unlock()
	return r
}

// FailOn makes calls of op on matching names fail with err (wrapped; nil
// means ErrInjected) before reaching the inner storage, times times in
// total (times < 0: always). A failing Put reads its whole body first.
func (s *Storage) FailOn(op Op, match func(name string) bool, err error, times int) *Rule {
	if err == nil {
		err = ErrInjected
	}
	return s.add(&Rule{kind: failBefore, op: op, match: match, err: err, limit: times})
}

// FailAfter makes calls of op on matching names reach the inner storage
// and, when they succeed there, report err anyway (a lost reply), times
// times in total (times < 0: always). A failed Get's body is closed; a
// failed List has already reported every object.
func (s *Storage) FailAfter(op Op, match func(name string) bool, err error, times int) *Rule {
	if err == nil {
		err = ErrInjected
	}
	return s.add(&Rule{kind: failAfter, op: op, match: match, err: err, limit: times})
}

// Corrupt makes Gets of matching names return their bytes with the middle
// byte of the returned range inverted (an empty body stays empty).
func (s *Storage) Corrupt(match func(name string) bool) *Rule {
	return s.add(&Rule{kind: corrupt, op: OpGet, match: match, limit: -1})
}

// Truncate makes Gets of matching names return at most n bytes and then fail
// with io.ErrUnexpectedEOF (wrapped) if the body had more.
func (s *Storage) Truncate(match func(name string) bool, n int) *Rule {
	return s.add(&Rule{kind: truncate, op: OpGet, match: match, n: int64(max(n, 0)), limit: -1})
}

// Delay makes calls of op on matching names wait d before proceeding, or
// fail with the context's error if it ends first.
func (s *Storage) Delay(op Op, match func(name string) bool, d time.Duration) *Rule {
	return s.add(&Rule{kind: delay, op: op, match: match, d: d, limit: -1})
}

// Blackhole makes calls of op on matching names hang until their context
// ends, then fail with the context's error.
func (s *Storage) Blackhole(op Op, match func(name string) bool) *Rule {
	return s.add(&Rule{kind: blackhole, op: op, match: match, limit: -1})
}

// Reset removes every rule and zeroes the call counters.
func (s *Storage) Reset() {
	s.mu.Lock()
	s.rules = nil
	s.mu.Unlock()
	for i := range s.calls {
		s.calls[i].Store(0)
	}
}

// Calls reports how many times op was called (since New or Reset).
func (s *Storage) Calls(op Op) int {
	if op < 0 || op >= numOps {
		return 0
	}
	return int(s.calls[op].Load())
}

// before counts the call, then applies the delay, blackhole and failBefore
// rules that fire, in order.
func (s *Storage) before(ctx context.Context, op Op, name string) error {
	s.calls[op].Add(1)
	var waits []*Rule
	var fail error
	s.mu.Lock()
	for _, r := range s.rules {
		switch r.kind {
		case delay, blackhole:
			if r.fire(op, name) {
				waits = append(waits, r)
			}
		case failBefore:
			if fail == nil && r.fire(op, name) {
				fail = r.err
			}
		}
	}
	s.mu.Unlock()
	for _, r := range waits {
		if err := wait(ctx, r); err != nil {
			return fmt.Errorf("fault %s %s: %w", op, name, err)
		}
	}
	if fail != nil {
		return fmt.Errorf("fault %s %s: %w", op, name, fail)
	}
	return nil
}

func wait(ctx context.Context, r *Rule) error {
	if r.kind == blackhole {
		<-ctx.Done()
		return ctx.Err()
	}
	t := time.NewTimer(r.d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// outcome is what the rules decided for a call that succeeded in the inner
// storage.
type outcome struct {
	err      error // from a failAfter rule
	corrupt  bool
	truncate *Rule
}

// after picks the failAfter, corrupt and truncate rules that fire for a
// call that succeeded in the inner storage.
func (s *Storage) after(op Op, name string) outcome {
	var o outcome
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.rules {
		switch r.kind {
		case failAfter:
			if o.err == nil && r.fire(op, name) {
				o.err = fmt.Errorf("fault %s %s (after it took effect): %w", op, name, r.err)
			}
		case corrupt:
			if !o.corrupt && r.fire(op, name) {
				o.corrupt = true
			}
		case truncate:
			if o.truncate == nil && r.fire(op, name) {
				o.truncate = r
			}
		}
	}
	return o
}

// Get forwards to the inner storage unless a rule intervenes.
func (s *Storage) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if err := s.before(ctx, OpGet, name); err != nil {
		return nil, err
	}
	body, err := s.inner.Get(ctx, name, off, length)
	if err != nil {
		return nil, err
	}
	o := s.after(OpGet, name)
	if o.err != nil {
		body.Close()
		return nil, o.err
	}
	if o.corrupt {
		data, err := io.ReadAll(body)
		body.Close()
		if err != nil {
			return nil, fmt.Errorf("fault get %s: read body to corrupt: %w", name, err)
		}
		if len(data) > 0 {
			data[len(data)/2] ^= 0xff
		}
		body = io.NopCloser(bytes.NewReader(data))
	}
	if o.truncate != nil {
		body = &truncBody{ReadCloser: body, left: o.truncate.n, name: name}
	}
	return body, nil
}

// truncBody passes through left bytes, then fails if more would follow.
type truncBody struct {
	io.ReadCloser
	left int64
	name string
}

func (b *truncBody) Read(p []byte) (int, error) {
	if b.left > 0 {
		if int64(len(p)) > b.left {
			p = p[:b.left]
		}
		n, err := b.ReadCloser.Read(p)
		b.left -= int64(n)
		return n, err
	}
	var one [1]byte
	for range 100 {
		n, err := b.ReadCloser.Read(one[:])
		if n > 0 {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	return 0, fmt.Errorf("fault get %s: body truncated: %w", b.name, io.ErrUnexpectedEOF)
}

// Stat forwards to the inner storage unless a rule intervenes.
func (s *Storage) Stat(ctx context.Context, name string) (storage.Info, error) {
	if err := s.before(ctx, OpStat, name); err != nil {
		return storage.Info{}, err
	}
	info, err := s.inner.Stat(ctx, name)
	if err != nil {
		return info, err
	}
	if err := s.after(OpStat, name).err; err != nil {
		return storage.Info{}, err
	}
	return info, nil
}

// List forwards to the inner storage unless a rule intervenes; rules match
// the prefix.
func (s *Storage) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	if err := s.before(ctx, OpList, prefix); err != nil {
		return err
	}
	if err := s.inner.List(ctx, prefix, fn); err != nil {
		return err
	}
	return s.after(OpList, prefix).err
}

// Put forwards to the inner storage unless a rule intervenes.
func (s *Storage) Put(ctx context.Context, name string, r io.ReadSeeker, size int64, opt storage.PutOptions) error {
	if err := s.before(ctx, OpPut, name); err != nil {
		// Consume the body like an upload that failed at its end, so a
		// retry must rewind it.
		_, _ = io.CopyN(io.Discard, r, size)
		return err
	}
	if err := s.inner.Put(ctx, name, r, size, opt); err != nil {
		return err
	}
	return s.after(OpPut, name).err
}

// Delete forwards to the inner storage unless a rule intervenes.
func (s *Storage) Delete(ctx context.Context, name string) error {
	if err := s.before(ctx, OpDelete, name); err != nil {
		return err
	}
	if err := s.inner.Delete(ctx, name); err != nil {
		return err
	}
	return s.after(OpDelete, name).err
}

// Capabilities returns the inner storage's capabilities.
func (s *Storage) Capabilities() storage.Capabilities { return s.inner.Capabilities() }

// Close closes the inner storage.
func (s *Storage) Close() error { return s.inner.Close() }
