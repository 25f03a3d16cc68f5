package check

import (
	"context"
	"errors"
	"fmt"

	"lifeboat/storage"
)

// ErrTombstonedPresent marks an object deleted with a tombstone (a
// forgotten snapshot, a removed key) that a region still holds, because it
// was down when the object was deleted. Readers ignore it; a keyed
// `lifeboat sync` deletes it.
var ErrTombstonedPresent = errors.New("deleted (tombstoned) but still stored here; run lifeboat sync with the repository's identity or passphrase to delete it")

// checkTombstones reports, as warnings, every region's copy of a
// tombstoned object, and, as problems, tombstones that do not authenticate
// with the repository key (forged or damaged: nothing honours them).
func (c *checker) checkTombstones(ctx context.Context) {
	ts, err := c.r.Tombstones(ctx)
	if err != nil {
		c.problem(Problem{Object: "tombstones/", Err: err})
		return
	}
	reps, _ := selectReplicas(c.r.Storage(), nil)
	for _, t := range ts {
		if t.Err != nil {
			c.problem(Problem{Object: t.Name, Err: fmt.Errorf("not honoured: %w", t.Err)})
			continue
		}
		for _, rep := range reps {
			_, err := rep.Reader.Stat(ctx, t.Object)
			switch {
			case err == nil:
				c.mu.Lock()
				c.res.Tombstoned++
				c.mu.Unlock()
				c.warning(Problem{Region: rep.Region, Object: t.Object, Err: ErrTombstonedPresent})
			case errors.Is(err, storage.ErrNotExist):
			default:
				c.warning(Problem{Region: rep.Region, Object: t.Object, Err: fmt.Errorf("cannot tell whether the tombstoned object is still stored: %w", err)})
			}
		}
	}
}
