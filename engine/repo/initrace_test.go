package repo_test

import (
	"context"
	"errors"
	"testing"

	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage"
	"lifeboat/storage/fault"
	"lifeboat/storage/mem"
)

// TestInitLosingRaceLeavesNoKey runs two inits on the same storage where
// the second checked for a config before the first wrote it (its Stat of
// the config is made to miss), so the second writes its key and then loses
// the conditional create of the config. The loser must remove its key:
// its identity then opens nothing (ErrWrongKey, not an integrity error),
// and the winner's repository keeps exactly one key.
func TestInitLosingRaceLeavesNoKey(t *testing.T) {
	ctx := context.Background()
	st := fault.New(mem.New())
	winner, winnerID := enginetest.NewRepo(t, st)

	loserID, loserRcpt := enginetest.Identity(t)
	st.FailOn(fault.OpStat, fault.Exact(format.ConfigName), storage.ErrNotExist, 1)
	_, err := repo.Init(ctx, st, repo.InitOptions{Recipient: loserRcpt, Host: "loser"})
	if !errors.Is(err, repo.ErrAlreadyInitialized) {
		t.Fatalf("losing init: err = %v, want ErrAlreadyInitialized", err)
	}
	if !errors.Is(err, storage.ErrExist) {
		t.Errorf("losing init: err = %v does not say the config existed", err)
	}

	keys, err := winner.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 {
		t.Fatalf("the repository holds %d keys after the lost init, want the winner's 1", len(keys))
	}
	if _, err := repo.Open(ctx, st, loserID, repo.Options{}); !errors.Is(err, repo.ErrWrongKey) {
		t.Fatalf("open with the loser's identity: err = %v, want ErrWrongKey", err)
	}
	var ie *repo.IntegrityError
	if _, err := repo.Open(ctx, st, loserID, repo.Options{}); errors.As(err, &ie) {
		t.Fatalf("open with the loser's identity reports damage: %v", err)
	}
	enginetest.Reopen(t, st, winnerID)
}
