package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"lifeboat/engine/repo"
	"lifeboat/storage"
	"lifeboat/storage/regions"
)

// TestExitCode maps errors by their cause: a context.Canceled in the chain
// is an interrupt (130) only when a signal interrupted the command.
func TestExitCode(t *testing.T) {
	// A full region fails an upload; the backup cancels the others and
	// joins their context.Canceled to the failure, as after a real ENOSPC.
	full := fmt.Errorf("regions put data/ab/cd: 1 of 2 regions succeeded, need 2: %w: %w", regions.ErrQuorum,
		fmt.Errorf("region small: local put: %w", storage.ErrNoSpace))
	noSpace := errors.Join(fmt.Errorf("backup: upload pack: %w", full), context.Canceled, fmt.Errorf("upload pack: %w", full))
	for _, tc := range []struct {
		name        string
		err         error
		interrupted bool
		want        int
	}{
		{"nil", nil, false, ExitOK},
		{"nil after a signal", nil, true, ExitOK},
		{"full disk", noSpace, false, ExitError},
		{"full disk, canceled first", errors.Join(context.Canceled, full), false, ExitError},
		{"internal cancel", fmt.Errorf("list: %w", context.Canceled), false, ExitError},
		{"interrupted", fmt.Errorf("backup: %w", context.Canceled), true, ExitInterrupt},
		{"interrupted, coded", withCode(ExitError, fmt.Errorf("sync: %w", context.Canceled)), true, ExitInterrupt},
		{"interrupted, other error", errors.New("read: i/o error"), true, ExitInterrupt},
		{"coded", withCode(ExitIntegrity, errors.New("damaged")), false, ExitIntegrity},
		{"usage", usageErr("bad flag"), false, ExitUsage},
		{"silent", &silentError{code: ExitDrillFailed}, true, ExitDrillFailed},
		{"no repository", fmt.Errorf("open: %w", repo.ErrNoRepository), false, ExitNoRepo},
		{"wrong key", fmt.Errorf("open: %w", repo.ErrWrongKey), false, ExitWrongKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := exitCode(tc.err, tc.interrupted); got != tc.want {
				t.Fatalf("exitCode(%v, %v) = %d, want %d", tc.err, tc.interrupted, got, tc.want)
			}
		})
	}
}

// TestInterruptSignals: SIGINT, SIGTERM and SIGHUP each cancel the
// command's context with a cause that marks it interrupted; a cancel of
// its own does not.
func TestInterruptSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			ctx, stop := withInterrupts(context.Background())
			defer stop()
			if err := syscall.Kill(syscall.Getpid(), sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(30 * time.Second):
				t.Fatalf("%v did not cancel the context", sig)
			}
			var ie *interruptedError
			if !interrupted(ctx) || !errors.As(context.Cause(ctx), &ie) || ie.sig != sig {
				t.Fatalf("cause %v, want an interrupt by %v", context.Cause(ctx), sig)
			}
		})
	}
	ctx, stop := withInterrupts(context.Background())
	stop()
	if ctx.Err() == nil || interrupted(ctx) {
		t.Fatalf("after stop: err %v, interrupted %v; want canceled, not interrupted", ctx.Err(), interrupted(ctx))
	}
}

// TestUsageErrors: argument errors of any command exit 2.
func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"backup"},
		{"frobnicate"},
		{"key", "frobnicate"},
		{"backup", "--no-such-flag", "x"},
		{"key", "remove"},
		{"restore"},
		{"snapshots", "extra"},
	} {
		if code, out, errOut := lb(t, args...); code != ExitUsage {
			t.Errorf("lifeboat %q: exit %d, want %d\n%s%s", args, code, ExitUsage, out, errOut)
		}
	}
	// A pack size out of range names the range (init has a passphrase,
	// so that it gets as far as the pack size).
	t.Setenv("LIFEBOAT_PASSPHRASE", "usage test passphrase")
	for _, size := range []string{"32KiB", "2GiB"} {
		dir := t.TempDir()
		code, out, errOut := lb(t, "--repo", dir, "init", "--scrypt-log-n", "10", "--pack-size", size)
		if code != ExitUsage || !strings.Contains(errOut, "out of range: give 1MiB to 1GiB") || strings.Contains(errOut, "malformed") {
			t.Errorf("init --pack-size %s: exit %d, want %d naming the range\n%s%s", size, code, ExitUsage, out, errOut)
		}
	}
}
