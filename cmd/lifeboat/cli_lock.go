package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/engine/lock"
	"lifeboat/storage"
)

// heldLock is the repository lock a command holds while it works.
type heldLock struct {
	a      *app
	l      *lock.Lock
	ctx    context.Context
	cancel context.CancelFunc
}

// lockWaitFlag adds --lock-wait to a command that takes the repository
// lock.
func lockWaitFlag(cmd *cobra.Command, wait *time.Duration) {
	cmd.Flags().DurationVar(wait, "lock-wait", lockWait, "how long to wait for the repository lock while another host holds it")
}

// takeRepoLock takes the repository lock, as the daemon's jobs do: while
// another host (or the daemon) holds it, it waits up to wait, polling,
// then fails naming the holder. Work done under the lock uses the
// returned lock's ctx, which ends if the lock is lost; release it with
// release.
func (a *app) takeRepoLock(ctx context.Context, st storage.Storage, wait time.Duration) (*heldLock, error) {
	cfg, err := a.needConfig()
	if err != nil {
		return nil, err
	}
	// Without working conditional creates, two hosts could hold the lock.
	if err := requireConditionalCreate(cfg, st); err != nil {
		return nil, err
	}
	holder := lock.Holder{Host: hostname(), PID: os.Getpid(), ID: randomID()}
	told := false
	l, err := lock.AcquireWait(ctx, st, repositoryLock, holder, lockLease, nil, lock.WaitOptions{
		Wait: wait, Poll: lockPoll,
		OnWait: func(err error) {
			if !told && !a.flags.quiet {
				fmt.Fprintf(a.stderr, "lifeboat: waiting up to %v for the repository lock: %v\n", wait, err)
			}
			told = true
		},
	})
	if err != nil {
		return nil, fmt.Errorf("repository lock: %w", err)
	}
	lctx, cancel := l.Context(ctx)
	return &heldLock{a: a, l: l, ctx: lctx, cancel: cancel}, nil
}

// noLockHeld stands for the lock a command chose not to take: its ctx is
// ctx, and it is never lost.
func noLockHeld(ctx context.Context) *heldLock { return &heldLock{ctx: ctx} }

// lost returns err, or, when the lock was lost while the command worked,
// an error saying so that wraps err (and exits 1, not as interrupted).
func (h *heldLock) lost(err error) error {
	if cause := context.Cause(h.ctx); err != nil && errors.Is(cause, lock.ErrLost) {
		return withCode(ExitError, fmt.Errorf("%w: %w", cause, err))
	}
	return err
}

// release frees the lock (a failure is a warning: the lock expires).
func (h *heldLock) release() {
	h.cancel()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(h.ctx), 30*time.Second)
	defer cancel()
	if err := h.l.Release(ctx); err != nil {
		fmt.Fprintf(h.a.stderr, "lifeboat: warning: cannot release the repository lock: %v\n", err)
	}
}
