package migrate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage"
)

// Errors Run returns before changing anything.
var (
	// ErrBadVersion reports a target version this code cannot write.
	ErrBadVersion = errors.New("no such format version")
	// ErrDowngrade reports a region whose config already has a version
	// above the target: migrate never lowers a version.
	ErrDowngrade = errors.New("migrate does not lower a format version")
	// ErrRegionUnreadable reports a region whose config could not be read:
	// migrate changes every region or none it cannot see.
	ErrRegionUnreadable = errors.New("a region's config could not be read")
	// ErrConfigsDiffer reports regions whose configs differ in more than
	// the version (not one repository).
	ErrConfigsDiffer = errors.New("the regions' configs differ in more than the version")
)

// Options select the target.
type Options struct {
	// To is the target format version (0: format.Version, the newest).
	To int
	// DryRun only plans: nothing is written.
	DryRun bool
}

// Step is what migrate does (or did) to one region's config.
type Step struct {
	// Region names the region ("" for a storage without regions).
	Region string `json:"region"`
	// From is the region's config version before; 0 when it holds none.
	From int `json:"from"`
	// Action is "raise" (rewrite with the target version), "copy" (the
	// region is at the target version, with other bytes than the others:
	// an earlier migrate sealed it separately), "none" or "skip" (the
	// region holds no config yet; sync copies it there).
	Action string `json:"action"`
	// Done tells whether the rewrite was stored.
	Done bool `json:"done"`
	// Err tells why it was not (Run).
	Err string `json:"error,omitempty"`
}

// Result describes a migrate (planned or run).
type Result struct {
	// From is the repository's format version before: the lowest of the
	// regions' configs.
	From int `json:"from"`
	// To is the target version.
	To int `json:"to"`
	// Steps lists every region, in read preference order.
	Steps []Step `json:"regions"`
	// Changes says what writers store differently from then on.
	Changes []string `json:"changes"`
	// DryRun is set when nothing was written.
	DryRun bool `json:"dry_run"`
}

// Pending reports whether any region's config needs a rewrite.
func (r *Result) Pending() bool {
	for _, s := range r.Steps {
		if (s.Action == "raise" || s.Action == "copy") && !s.Done {
			return true
		}
	}
	return false
}

// Changes lists what writers store differently in a repository of version
// to than in one of version from (from < to).
func Changes(from, to int) []string {
	var out []string
	if from < 2 && to >= 2 {
		out = append(out, "version 2: trees are stored in binary (LBT2) instead of JSON; names and symlink targets that are not UTF-8 are stored exactly")
	}
	if from < 3 && to >= 3 {
		out = append(out, "version 3: trees are stored as LBT3, with extension areas: extended attributes and inode flags are stored")
	}
	if from < 4 && to >= 4 {
		out = append(out, "version 4: forget and key remove record each deletion with a tombstone in every region first, so a region that was down cannot bring a forgotten snapshot or a removed key back")
	}
	if from < 5 && to >= 5 {
		out = append(out, "version 5: every commit (a snapshot, a key, prune's index objects, a config) is recorded in the writer's commit chain (chain/), so that history verification reports objects that vanish without a deletion record and regions or chains rolled back; objects stored before the migrate are checked only as far as the records name them")
	}
	if from < to {
		out = append(out, fmt.Sprintf("snapshots are written with version %d; releases that read only format version %d or lower refuse the repository", to, to-1))
	}
	return out
}

// Run raises the format version of r's config in every region to
// opt.To. Regions are rewritten one after the other; when one fails, the
// others are still tried, and the error names the regions left behind (run
// again to finish). A region that holds no config is skipped (sync copies
// the config there). Before writing anything, Run refuses a target it
// cannot write (ErrBadVersion), a region at a higher version
// (ErrDowngrade), a region whose config cannot be read
// (ErrRegionUnreadable), and configs that differ in more than the version
// (ErrConfigsDiffer).
func Run(ctx context.Context, r *repo.Repository, opt Options) (*Result, error) {
	to := opt.To
	if to == 0 {
		to = format.Version
	}
	if to < 1 || to > format.Version {
		return nil, fmt.Errorf("migrate to version %d: %w (this lifeboat writes versions 1 to %d)", to, ErrBadVersion, format.Version)
	}
	copies := r.ConfigCopies(ctx)
	res := &Result{From: r.FormatVersion(), To: to, DryRun: opt.DryRun}
	var base *format.Config
	var target []byte
	for _, c := range copies {
		if c.Err != nil {
			if errors.Is(c.Err, storage.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("migrate: %w: %s", ErrRegionUnreadable, regionErr(c.Region, c.Err))
		}
		if c.Config.Version > to {
			return nil, fmt.Errorf("migrate to version %d: %w: %s is at version %d", to, ErrDowngrade, regionName(c.Region), c.Config.Version)
		}
		if base == nil {
			base = c.Config
		} else if !sameRepository(base, c.Config) {
			return nil, fmt.Errorf("migrate: %w: %s", ErrConfigsDiffer, regionName(c.Region))
		}
		if c.Config.Version == to && target == nil {
			target = c.Sealed // an earlier, interrupted migrate's config
		}
		res.From = min(res.From, c.Config.Version)
	}
	if base == nil {
		return nil, fmt.Errorf("migrate: %w", repo.ErrNoRepository)
	}
	if target == nil {
		cfg := *base
		cfg.Version = to
		sealed, err := r.SealConfig(&cfg)
		if err != nil {
			return nil, fmt.Errorf("migrate: %w", err)
		}
		target = sealed
	}
	for _, c := range copies {
		s := Step{Region: c.Region}
		switch {
		case c.Err != nil:
			s.Action = "skip"
		case c.Config.Version < to:
			s.From, s.Action = c.Config.Version, "raise"
		case !bytes.Equal(c.Sealed, target):
			s.From, s.Action = c.Config.Version, "copy"
		default:
			s.From, s.Action = c.Config.Version, "none"
		}
		res.Steps = append(res.Steps, s)
	}
	res.Changes = Changes(res.From, to)
	if opt.DryRun {
		return res, nil
	}
	if writes(res.Steps) {
		// The new config goes into the commit chain first, so that no
		// region ever holds a config no record names (FORMAT.md §19).
		if err := r.RecordConfig(ctx, target, to); err != nil {
			return res, fmt.Errorf("migrate: record the new config (nothing written): %w", err)
		}
	}
	var errs []error
	for i := range res.Steps {
		s := &res.Steps[i]
		if s.Action != "raise" && s.Action != "copy" {
			continue
		}
		if err := r.PutConfig(ctx, s.Region, target); err != nil {
			s.Err = err.Error()
			errs = append(errs, err)
			continue
		}
		s.Done = true
	}
	if len(errs) > 0 {
		return res, fmt.Errorf("migrate: %w (the repository stays at version %d until every region is raised: run lifeboat migrate again)", errors.Join(errs...), res.From)
	}
	return res, nil
}

// writes reports whether a step replaces a region's config.
func writes(steps []Step) bool {
	for _, s := range steps {
		if s.Action == "raise" || s.Action == "copy" {
			return true
		}
	}
	return false
}

// sameRepository reports whether a and b are one repository's config,
// versions aside.
func sameRepository(a, b *format.Config) bool {
	x, y := *a, *b
	x.Version, y.Version = 0, 0
	x.Created, y.Created = time.Time{}, time.Time{}
	return x == y && a.Created.Equal(b.Created)
}

func regionName(region string) string {
	if region == "" {
		return "the repository"
	}
	return "region " + region
}

func regionErr(region string, err error) error {
	if region == "" {
		return err
	}
	return fmt.Errorf("region %s: %w", region, err)
}
