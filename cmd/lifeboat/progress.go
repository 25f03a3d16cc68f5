package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"
)

// status is a snapshot of an operation's counters.
type status struct {
	Files   int64
	Bytes   int64
	Errors  int64
	Current string
}

// reporter prints progress: a rewritten status line on a terminal, JSON
// status lines with --json, nothing otherwise.
type reporter struct {
	a      *app
	op     string
	poll   func() status
	start  time.Time
	mode   int // 0 none, 1 tty, 2 json
	done   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	totalF atomic.Int64
	totalB atomic.Int64
	once   sync.Once
}

func (a *app) startReporter(op string, poll func() status) *reporter {
	r := &reporter{a: a, op: op, poll: poll, start: time.Now(), done: make(chan struct{})}
	r.totalF.Store(-1)
	switch {
	case a.flags.json:
		r.mode = 2
	case !a.flags.quiet && isTerminal(a.stderr):
		r.mode = 1
	}
	if r.mode != 0 {
		r.wg.Add(1)
		go r.loop()
	}
	return r
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (r *reporter) active() bool { return r.mode != 0 }

func (r *reporter) setTotals(files, bytes int64) {
	r.totalB.Store(bytes)
	r.totalF.Store(files)
}

func (r *reporter) loop() {
	defer r.wg.Done()
	every := 250 * time.Millisecond
	if r.mode == 2 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-r.done:
			return
		case <-t.C:
			r.print()
		}
	}
}

func (r *reporter) print() {
	s := r.poll()
	el := time.Since(r.start)
	rate := float64(s.Bytes) / max(el.Seconds(), 0.001)
	tf, tb := r.totalF.Load(), r.totalB.Load()
	eta := time.Duration(-1)
	if tf >= 0 && rate > 0 && tb >= s.Bytes {
		eta = time.Duration(float64(tb-s.Bytes) / rate * float64(time.Second))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mode == 2 {
		m := map[string]any{
			"message_type": "status", "operation": r.op, "seconds_elapsed": el.Seconds(),
			"files_done": s.Files, "bytes_done": s.Bytes, "errors": s.Errors,
		}
		if tf >= 0 {
			m["total_files"], m["total_bytes"] = tf, tb
			if tb > 0 {
				m["percent_done"] = float64(s.Bytes) / float64(tb)
			}
			if eta >= 0 {
				m["seconds_remaining"] = eta.Seconds()
			}
		}
		data, _ := json.Marshal(m)
		fmt.Fprintf(r.a.stdout, "%s\n", data)
		return
	}
	line := fmt.Sprintf("[%s] %d files, %s, %s/s", fmtDur(el), s.Files, formatBytes(s.Bytes), formatBytes(int64(rate)))
	if tf >= 0 && tb > 0 {
		line = fmt.Sprintf("[%s] %d/%d files, %s/%s (%.0f%%), %s/s", fmtDur(el), s.Files, tf, formatBytes(s.Bytes), formatBytes(tb), 100*float64(s.Bytes)/float64(tb), formatBytes(int64(rate)))
		if eta >= 0 {
			line += ", ETA " + fmtDur(eta)
		}
	}
	if s.Errors > 0 {
		line += fmt.Sprintf(", %d errors", s.Errors)
	}
	if w, _, err := term.GetSize(int(r.a.stderr.(*os.File).Fd())); err == nil && w > 10 && len(line) > w-1 {
		line = line[:w-1]
	}
	fmt.Fprintf(r.a.stderr, "\r\033[K%s", line)
}

// warn prints a warning without garbling the status line.
func (r *reporter) warn(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch r.mode {
	case 1:
		fmt.Fprintf(r.a.stderr, "\r\033[Kwarning: %s\n", msg)
	case 2:
		data, _ := json.Marshal(map[string]any{"message_type": "error", "operation": r.op, "error": msg})
		fmt.Fprintf(r.a.stdout, "%s\n", data)
	default:
		fmt.Fprintf(r.a.stderr, "warning: %s\n", msg)
	}
}

func (r *reporter) stop() {
	r.once.Do(func() {
		close(r.done)
		r.wg.Wait()
		if r.mode == 1 {
			fmt.Fprint(r.a.stderr, "\r\033[K")
		}
	})
}

func fmtDur(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}
