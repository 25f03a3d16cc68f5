package repo

import (
	"context"
	"errors"
	"fmt"

	"lifeboat/crypto"
	"lifeboat/engine/format"
	"lifeboat/storage"
)

// ConfigCopy is one region's copy of the config object.
type ConfigCopy struct {
	// Region names the region ("" for a storage that is not a region set).
	Region string
	// Config is the decoded copy; nil when Err is set.
	Config *format.Config
	// Sealed is the stored object.
	Sealed []byte
	// Err tells why the copy could not be used: wrapping
	// storage.ErrNotExist when the region holds no config (not synced yet),
	// format.ErrNewerVersion when a newer Lifeboat raised its version.
	Err error
}

// configCopies reads and opens the config of every replica, in preference
// order, one after the other (as a union listing does).
func configCopies(ctx context.Context, reps []storage.Replica, dk *crypto.DataKey) []ConfigCopy {
	out := make([]ConfigCopy, 0, len(reps))
	for _, rep := range reps {
		c := ConfigCopy{Region: rep.Region}
		c.Sealed, c.Err = storage.ReadAll(ctx, rep.Reader, format.ConfigName)
		if c.Err == nil {
			c.Config, c.Err = openConfig(dk, c.Sealed)
		}
		out = append(out, c)
	}
	return out
}

// openConfig authenticates and decodes a sealed config. A config of a newer
// format version is not an integrity error: it fails with an error wrapping
// format.ErrNewerVersion.
func openConfig(dk *crypto.DataKey, sealed []byte) (*format.Config, error) {
	plain, err := dk.Open(sealed)
	if err != nil {
		return nil, &IntegrityError{Object: format.ConfigName, Err: err}
	}
	cfg, err := format.DecodeConfig(plain)
	if errors.Is(err, format.ErrNewerVersion) {
		return nil, fmt.Errorf("repository %w", err)
	}
	if err != nil {
		return nil, &IntegrityError{Object: format.ConfigName, Err: err}
	}
	return cfg, nil
}

// resolveConfig picks the repository's config from the regions' copies:
// the first usable copy in preference order, with the lowest format version
// among the usable copies of the same repository. Regions disagree on the
// version only while a `lifeboat migrate` is unfinished, and until every
// region holds the new version, writers keep to the old one, so that no
// region whose config still says the old version receives objects of the
// new one. A copy of a version newer than this code reads makes the
// repository unusable here (an error wrapping format.ErrNewerVersion).
// Copies that cannot be read or opened are skipped, unless none can be.
func resolveConfig(copies []ConfigCopy) (*format.Config, error) {
	var cfg *format.Config
	var firstErr error
	for _, c := range copies {
		if errors.Is(c.Err, format.ErrNewerVersion) {
			if c.Region != "" {
				return nil, fmt.Errorf("region %s: %w", c.Region, c.Err)
			}
			return nil, c.Err
		}
		if c.Err != nil {
			if firstErr == nil && !errors.Is(c.Err, storage.ErrNotExist) {
				firstErr = c.Err
			}
			continue
		}
		if cfg == nil {
			v := *c.Config
			cfg = &v
		} else if c.Config.ID == cfg.ID && c.Config.Version < cfg.Version {
			cfg.Version = c.Config.Version
		}
	}
	if cfg == nil {
		if firstErr == nil {
			return nil, ErrNoRepository
		}
		return nil, firstErr
	}
	return cfg, nil
}

// FormatVersion returns the format version writers use in this repository:
// the config's (the lowest of the regions' configs while a migrate is
// unfinished). Trees are encoded as format.TreeEncodingFor prescribes and
// snapshots carry this version.
func (r *Repository) FormatVersion() int { return r.cfg.Version }

// ConfigCopies reads every region's copy of the config (one copy for a
// storage that is not a region set), in read preference order.
func (r *Repository) ConfigCopies(ctx context.Context) []ConfigCopy {
	return configCopies(ctx, r.replicas(), r.dk)
}

// SealConfig validates, encodes and seals cfg as a config object.
func (r *Repository) SealConfig(cfg *format.Config) ([]byte, error) {
	plain, err := format.EncodeConfig(cfg)
	if err != nil {
		return nil, err
	}
	sealed, err := r.dk.Seal(plain)
	if err != nil {
		return nil, fmt.Errorf("seal config: %w", err)
	}
	return sealed, nil
}

// ErrForeignConfig reports a config that belongs to another repository or
// does not open with this repository's key.
var ErrForeignConfig = errors.New("config is not this repository's")

// PutConfig replaces the config object in one region ("" for a storage that
// is not a region set) with sealed, which must open with this repository's
// key and name this repository. The replacement is atomic in that region
// (a storage Put); the other regions are untouched. `lifeboat migrate`
// raises the format version with it.
func (r *Repository) PutConfig(ctx context.Context, region string, sealed []byte) error {
	cfg, err := openConfig(r.dk, sealed)
	if err != nil {
		return fmt.Errorf("put config: %w: %w", ErrForeignConfig, err)
	}
	if cfg.ID != r.cfg.ID {
		return fmt.Errorf("put config: %w: repository %s, not %s", ErrForeignConfig, cfg.ID, r.cfg.ID)
	}
	st := r.st
	if region != "" {
		rs := regionsOf(r.st)
		if rs == nil {
			return fmt.Errorf("put config in region %s: the storage has no regions", region)
		}
		var ok bool
		if st, ok = rs.Region(region); !ok {
			return fmt.Errorf("put config: no region %s", region)
		}
	}
	if err := storage.PutBytes(ctx, st, format.ConfigName, sealed, storage.PutOptions{}); err != nil {
		if region != "" {
			return fmt.Errorf("put config in region %s: %w", region, err)
		}
		return fmt.Errorf("put config: %w", err)
	}
	return nil
}
