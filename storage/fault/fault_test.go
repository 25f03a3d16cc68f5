package fault_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"lifeboat/storage"
	"lifeboat/storage/fault"
	"lifeboat/storage/mem"
	"lifeboat/storage/storagetest"
)

var ctx = context.Background()

func TestConformanceNoRules(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Storage { return fault.New(mem.New()) })
}

// TestConformanceWithUnmatchedRules checks that rules for other names change
// nothing.
func TestConformanceWithUnmatchedRules(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Storage {
		f := fault.New(mem.New())
		never := func(string) bool { return false }
		for op := fault.OpGet; op <= fault.OpDelete; op++ {
			f.FailOn(op, never, nil, -1)
			f.FailAfter(op, never, nil, -1)
			f.Blackhole(op, never)
		}
		f.Corrupt(never)
		f.Truncate(never, 0)
		return f
	})
}

func TestFailOn(t *testing.T) {
	for _, tc := range []struct {
		name    string
		times   int
		perName bool
		names   []string
		want    []bool // whether each put fails
	}{
		{"twice in total", 2, false, []string{"a", "a", "b", "b"}, []bool{true, true, false, false}},
		{"twice per name", 2, true, []string{"a", "a", "a", "b", "b", "b"}, []bool{true, true, false, true, true, false}},
		{"always", -1, false, []string{"a", "b", "a"}, []bool{true, true, true}},
		{"never", 0, false, []string{"a", "b"}, []bool{false, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := fault.New(mem.New())
			injected := storage.MarkTransient(fault.ErrInjected)
			r := f.FailOn(fault.OpPut, nil, injected, tc.times)
			if tc.perName {
				r.PerName()
			}
			hits := 0
			for i, name := range tc.names {
				body := bytes.NewReader([]byte("payload"))
				err := f.Put(ctx, name, body, 7, storage.PutOptions{})
				if tc.want[i] {
					hits++
					if !errors.Is(err, fault.ErrInjected) || !storage.IsTransient(err) {
						t.Fatalf("put %d (%s): err = %v, want the injected transient error", i, name, err)
					}
					if body.Len() != 0 {
						t.Fatalf("failed put left %d body bytes unread", body.Len())
					}
					continue
				}
				if err != nil {
					t.Fatalf("put %d (%s): %v", i, name, err)
				}
			}
			if r.Hits() != hits || f.Calls(fault.OpPut) != len(tc.names) {
				t.Fatalf("hits = %d, calls = %d; want %d, %d", r.Hits(), f.Calls(fault.OpPut), hits, len(tc.names))
			}
		})
	}
}

func TestFailOnEveryOp(t *testing.T) {
	f := fault.New(mem.New())
	storagetest.PutString(t, f, "obj", "data")
	for op := fault.OpGet; op <= fault.OpDelete; op++ {
		t.Run(op.String(), func(t *testing.T) {
			r := f.FailOn(op, fault.Exact("obj"), nil, 1)
			defer r.Remove()
			call := func() error {
				switch op {
				case fault.OpGet:
					_, err := storage.ReadAll(ctx, f, "obj")
					return err
				case fault.OpStat:
					_, err := f.Stat(ctx, "obj")
					return err
				case fault.OpList:
					return f.List(ctx, "obj", func(storage.Info) error { return nil })
				case fault.OpPut:
					return storage.PutBytes(ctx, f, "obj", []byte("data"), storage.PutOptions{})
				default:
					return f.Delete(ctx, "obj")
				}
			}
			if err := call(); !errors.Is(err, fault.ErrInjected) {
				t.Fatalf("first call: err = %v, want ErrInjected", err)
			}
			if err := call(); err != nil {
				t.Fatalf("second call: %v", err)
			}
		})
	}
}

func TestFailAfter(t *testing.T) {
	f := fault.New(mem.New())
	r := f.FailAfter(fault.OpPut, nil, nil, 1)
	err := storage.PutBytes(ctx, f, "a", []byte("x"), storage.PutOptions{IfNotExists: true})
	if !errors.Is(err, fault.ErrInjected) {
		t.Fatalf("put: err = %v, want ErrInjected", err)
	}
	if got, err := storage.ReadAll(ctx, f, "a"); err != nil || string(got) != "x" {
		t.Fatalf("object after lost reply: %q, %v", got, err)
	}
	// A call failing in the inner storage keeps its own error and does not
	// consume the rule.
	d := f.FailAfter(fault.OpDelete, nil, nil, 1)
	if err := f.Delete(ctx, "missing"); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("delete missing: err = %v, want ErrNotExist", err)
	}
	if err := f.Delete(ctx, "a"); !errors.Is(err, fault.ErrInjected) {
		t.Fatalf("delete: err = %v, want ErrInjected", err)
	}
	if _, err := f.Stat(ctx, "a"); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("stat after lost delete reply: err = %v, want ErrNotExist", err)
	}
	if r.Hits() != 1 || d.Hits() != 1 {
		t.Fatalf("hits = %d, %d", r.Hits(), d.Hits())
	}
}

func TestCorrupt(t *testing.T) {
	f := fault.New(mem.New())
	orig := []byte("0123456789")
	for _, name := range []string{"pack/a", "pack/b", "empty"} {
		data := orig
		if name == "empty" {
			data = nil
		}
		if err := storage.PutBytes(ctx, f, name, data, storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	r := f.Corrupt(fault.Exact("pack/a", "empty"))
	for _, tc := range []struct {
		name        string
		off, length int64
		want        string
	}{
		{"pack/a", 0, -1, "01234\xca6789"},
		{"pack/a", 2, 4, "23\xcb5"},
		{"pack/a", 9, 1, "\xc6"},
		{"pack/a", 10, -1, ""},
		{"pack/b", 0, -1, "0123456789"},
		{"empty", 0, -1, ""},
	} {
		body, err := f.Get(ctx, tc.name, tc.off, tc.length)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(body)
		body.Close()
		if err != nil || string(got) != tc.want {
			t.Fatalf("get %s [%d,%d] = %q, %v; want %q", tc.name, tc.off, tc.length, got, err, tc.want)
		}
	}
	// Missing objects are not corrupted, and do not count.
	hits := r.Hits()
	if _, err := f.Get(ctx, "pack/missing", 0, -1); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("get missing: %v", err)
	}
	if r.Hits() != hits {
		t.Fatalf("a failed get counted as a corruption")
	}
	r.Remove()
	if got, err := storage.ReadAll(ctx, f, "pack/a"); err != nil || !bytes.Equal(got, orig) {
		t.Fatalf("after Remove: %q, %v", got, err)
	}
	// Times(1): corrupt once, then heal.
	f.Corrupt(nil).Times(1)
	first, _ := storage.ReadAll(ctx, f, "pack/b")
	second, _ := storage.ReadAll(ctx, f, "pack/b")
	if bytes.Equal(first, orig) || !bytes.Equal(second, orig) {
		t.Fatalf("Times(1): got %q then %q", first, second)
	}
}

func TestTruncate(t *testing.T) {
	f := fault.New(mem.New())
	storagetest.PutString(t, f, "long", "0123456789abcdef")
	storagetest.PutString(t, f, "short", "0123")
	f.Truncate(nil, 10)
	if _, err := storage.ReadAll(ctx, f, "long"); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("long: err = %v, want io.ErrUnexpectedEOF", err)
	}
	body, _ := f.Get(ctx, "long", 0, -1)
	got, _ := io.ReadAll(body)
	body.Close()
	if string(got) != "0123456789" {
		t.Fatalf("long: read %q before the cut", got)
	}
	buf := make([]byte, 12)
	if err := storage.ReadRange(ctx, f, "long", 2, buf); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("ReadRange: err = %v, want io.ErrUnexpectedEOF", err)
	}
	if got, err := storage.ReadAll(ctx, f, "short"); err != nil || string(got) != "0123" {
		t.Fatalf("short body: %q, %v", got, err)
	}
	body, _ = f.Get(ctx, "long", 6, -1) // exactly 10 bytes remain
	got, err := io.ReadAll(body)
	body.Close()
	if err != nil || string(got) != "6789abcdef" {
		t.Fatalf("exactly n bytes: %q, %v", got, err)
	}
}

func TestDelayAndBlackhole(t *testing.T) {
	f := fault.New(mem.New())
	storagetest.PutString(t, f, "obj", "data")
	delay := f.Delay(fault.OpStat, nil, time.Millisecond)
	if _, err := f.Stat(ctx, "obj"); err != nil {
		t.Fatalf("delayed stat: %v", err)
	}
	delay.Remove()
	f.Delay(fault.OpStat, nil, time.Hour)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := f.Stat(cancelled, "obj"); !errors.Is(err, context.Canceled) {
		t.Fatalf("stat delayed an hour with a cancelled context: err = %v", err)
	}

	f.Blackhole(fault.OpGet, fault.Exact("obj"))
	short, cancel2 := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel2()
	if _, err := f.Get(short, "obj", 0, -1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("blackholed get: err = %v, want DeadlineExceeded", err)
	}
	if err := f.List(ctx, "", func(storage.Info) error { return nil }); err != nil {
		t.Fatalf("list beside a blackholed get: %v", err)
	}
}

func TestResetAndCalls(t *testing.T) {
	inner := mem.New()
	f := fault.New(inner)
	if f.Unwrap() != inner {
		t.Fatal("Unwrap does not return the inner storage")
	}
	f.FailOn(fault.OpStat, nil, nil, -1)
	f.FailOn(fault.OpList, fault.Prefix("data/"), nil, -1)
	if _, err := f.Stat(ctx, "x"); err == nil {
		t.Fatal("stat: rule did not fire")
	}
	if err := f.List(ctx, "data/ab", func(storage.Info) error { return nil }); !errors.Is(err, fault.ErrInjected) {
		t.Fatalf("list data/ab: err = %v", err)
	}
	if err := f.List(ctx, "index/", func(storage.Info) error { return nil }); err != nil {
		t.Fatalf("list index/: %v", err)
	}
	if f.Calls(fault.OpStat) != 1 || f.Calls(fault.OpList) != 2 || f.Calls(fault.OpGet) != 0 {
		t.Fatalf("calls = %d stat, %d list, %d get", f.Calls(fault.OpStat), f.Calls(fault.OpList), f.Calls(fault.OpGet))
	}
	f.Reset()
	if _, err := f.Stat(ctx, "x"); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("stat after reset: err = %v, want ErrNotExist", err)
	}
	if f.Calls(fault.OpStat) != 1 || f.Calls(fault.OpList) != 0 {
		t.Fatal("Reset did not zero the counters")
	}
	if fault.OpDelete.String() != "delete" {
		t.Fatalf("OpDelete.String() = %q", fault.OpDelete.String())
	}
}
