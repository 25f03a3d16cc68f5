package main

import (
	"context"
	"errors"
	"fmt"

	"lifeboat/cmd/lifeboat/internal/config"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage"
)

// Exit codes. Documented in README.md.
const (
	ExitOK          = 0   // success
	ExitError       = 1   // the command failed
	ExitUsage       = 2   // bad flags, arguments or configuration (also a region's: credentials, bucket)
	ExitPartial     = 3   // finished, but some files could not be backed up or restored
	ExitIntegrity   = 4   // check or restore found damaged data
	ExitDrillFailed = 5   // a restore drill failed (reasons printed)
	ExitRegions     = 6   // lifeboat regions: a region is unreachable, misconfigured, refused, lacks conditional creates, or is behind
	ExitNewerFormat = 7   // the repository's format version (or an object's) is newer than this lifeboat reads: upgrade lifeboat
	ExitNoRepo      = 10  // no repository at the configured location
	ExitWrongKey    = 12  // no key matches the identity or passphrase
	ExitInterrupt   = 130 // interrupted (SIGINT, SIGTERM or SIGHUP)
)

// exitError carries an exit code with an error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

func usageErr(format string, args ...any) error {
	return withCode(ExitUsage, fmt.Errorf(format, args...))
}

// exitCode maps an error to the process exit code; interrupted says
// whether a signal interrupted the command (see withInterrupts). Only then
// is the exit code 130: a context.Canceled in the chain is not enough, as
// commands cancel their own work when one part fails (the other regions'
// uploads when a region's disk is full), and then the failure that caused
// it is what the exit code reports.
func exitCode(err error, interrupted bool) int {
	var ee *exitError
	var ce *config.Error
	var se *silentError
	switch {
	case err == nil:
		return ExitOK
	case interrupted && errors.Is(err, context.Canceled):
		return ExitInterrupt
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &se):
		return se.code
	case interrupted:
		return ExitInterrupt
	case errors.Is(err, repo.ErrNoRepository):
		return ExitNoRepo
	case errors.Is(err, repo.ErrWrongKey):
		return ExitWrongKey
	case errors.Is(err, format.ErrNewerVersion):
		return ExitNewerFormat
	case errors.As(err, &ce):
		return ExitUsage
	case errors.Is(err, storage.ErrConfig):
		// A region's configuration is wrong (credentials, bucket): the
		// same class as a bad configuration file.
		return ExitUsage
	}
	return ExitError
}
