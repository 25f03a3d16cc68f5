package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/storage"
	"lifeboat/storage/asof"
)

// asOfHelp is the --as-of flag's help.
const asOfHelp = "read the repository as it was at `TIME` (RFC 3339, or local \"YYYY-MM-DD[ HH:MM[:SS]]\"), from the object versions of regions with versioning (S3 with versioning or object lock); regions without versions are left out"

// addAsOfFlag registers --as-of on a command that only reads; openStorage
// then opens every region as it was at that time.
func (a *app) addAsOfFlag(cmd *cobra.Command) {
	cmd.Flags().StringVar(&a.flags.asOf, "as-of", "", asOfHelp)
}

// asOfLayouts are the local-time forms parseAsOf accepts besides RFC 3339.
var asOfLayouts = []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"}

// parseAsOf reads an --as-of time: RFC 3339 (with its zone), or a local
// date and time. A time after now is refused: the future has no versions.
func parseAsOf(s string, now time.Time, loc *time.Location) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		for _, l := range asOfLayouts {
			if t, err = time.ParseInLocation(l, s, loc); err == nil {
				break
			}
		}
	}
	if err != nil {
		return time.Time{}, usageErr("--as-of %q: want an RFC 3339 time (2026-12-04T21:00:00Z) or a local \"YYYY-MM-DD HH:MM[:SS]\"", s)
	}
	if t.After(now) {
		return time.Time{}, usageErr("--as-of %s is in the future", t.Format(time.RFC3339))
	}
	return t, nil
}

// openAsOf parses the --as-of flag into mode (nothing when it is unset).
func (a *app) openAsOf(mode *openMode) error {
	if a.flags.asOf == "" {
		return nil
	}
	t, err := parseAsOf(a.flags.asOf, time.Now(), time.Local)
	if err != nil {
		return err
	}
	mode.asOf = t
	mode.readOnly = true
	return nil
}

// errNoVersionsAsOf marks a region left out of an as-of read because it
// keeps no object versions.
var errNoVersionsAsOf = errors.New("cannot be read as of a time")

// asOfRegion is region st as it was at mode.asOf (st itself when the mode
// has no time). A region without versions fails with an error wrapping
// storage.ErrNoVersioning: the caller treats it as down.
func asOfRegion(ctx context.Context, region string, st storage.Storage, mode openMode) (storage.Storage, error) {
	if mode.asOf.IsZero() {
		return st, nil
	}
	var opt asof.Options
	if mode.keepFor != nil {
		keep, err := mode.keepFor(ctx, region, st)
		if err != nil {
			return nil, noVersionsErr(err)
		}
		opt.Keep = keep
	}
	v, err := asof.New(st, mode.asOf, opt)
	if err == nil {
		// Fail now, not at the first read, when the bucket has no
		// versioning: one listing of one name.
		err = st.Capabilities().Versions.ListVersions(ctx, "config", func(storage.VersionInfo) error { return nil })
	}
	if err != nil {
		return nil, noVersionsErr(err)
	}
	return v, nil
}

// noVersionsErr marks err as errNoVersionsAsOf, and as a configuration
// error when the region keeps no versions (exit code 2 when no region
// does).
func noVersionsErr(err error) error {
	if errors.Is(err, storage.ErrNoVersioning) {
		return fmt.Errorf("%w: %w (%w)", errNoVersionsAsOf, err, storage.ErrConfig)
	}
	return fmt.Errorf("%w: %w", errNoVersionsAsOf, err)
}
