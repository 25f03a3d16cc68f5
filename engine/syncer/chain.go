package syncer

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"lifeboat/engine/format"
	"lifeboat/storage"
)

// ChainVerifier authenticates commit records (FORMAT.md §19); the
// repository implements it. When Options.Tombstones also implements it,
// sync copies only the records that authenticate.
type ChainVerifier interface {
	VerifyChainRecord(name string, data []byte) error
}

// copyChain copies the commit records (chain/) to the regions that lack
// them. A record is never replaced: a region's own copy, even a different
// one, stays (the first copy that authenticates is the one readers use). Without the key only well-formed
// records are copied; with it only those that authenticate.
func (s *syncer) copyChain(ctx context.Context) error {
	lists := s.listAll(ctx, format.ChainPrefix)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	verifier, _ := s.opt.Tombstones.(ChainVerifier)
	holders := map[string][]*member{}
	for i, l := range lists {
		if l == nil || !s.members[i].source {
			continue
		}
		for name := range l {
			if _, _, err := format.ParseChainName(name); err == nil {
				holders[name] = append(holders[name], s.members[i])
			}
		}
	}
	names := make([]string, 0, len(holders))
	for name, hs := range holders {
		slices.SortStableFunc(hs, func(a, b *member) int { return a.rank - b.rank })
		names = append(names, name)
	}
	slices.Sort(names)
	return s.parallel(ctx, len(names), func(ctx context.Context, i int) {
		name := names[i]
		var good []byte
		for _, h := range holders[name] {
			data, err := storage.ReadAll(ctx, h.rd, name)
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, storage.ErrNotExist) {
					h.errorf("read %s: %v", name, err)
				}
				continue
			}
			body, _, err := format.SplitChainObject(data)
			if err == nil {
				_, err = format.DecodeChainBody(name, body)
			}
			if err == nil && verifier != nil {
				err = verifier.VerifyChainRecord(name, data)
			}
			if err != nil {
				h.warnf("commit record %s not copied (check reports it): %v", name, err)
				continue
			}
			good = data
			break
		}
		if good == nil {
			return
		}
		s.copyWhereMissing(ctx, lists, name, good)
	})
}
