package check_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"lifeboat/engine/backup"
	"lifeboat/engine/check"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/repo"
	"lifeboat/engine/retain"
	"lifeboat/storage"
	"lifeboat/storage/regions"
	"lifeboat/storage/s3"
	"lifeboat/tests/s3server"
)

// Check reports the objects of present snapshots whose object lock
// retention has ended, per region, and nothing while they are retained.
func TestCheckReportsUnprotectedSnapshots(t *testing.T) {
	ctx := context.Background()
	srv := s3server.Start(t, s3server.WithObjectLock())
	st, err := s3.New(ctx, s3.Config{
		Endpoint: srv.Endpoint, Bucket: srv.Bucket, Insecure: true,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
		ObjectLock: &storage.ObjectLock{Mode: storage.LockGovernance, Period: time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	set, err := regions.New([]regions.Region{{Name: "eu", Storage: st}}, regions.Options{WriteQuorum: 1})
	if err != nil {
		t.Fatal(err)
	}
	r, id := enginetest.NewRepo(t, set)
	src := filepath.Join(t.TempDir(), "src")
	enginetest.MakeTree(t, src, 5)
	if _, err := backup.Run(ctx, r, backup.Options{Paths: []string{src}, Host: "h"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		offset time.Duration
		want   bool
	}{
		{"retained", 0, false},
		{"retention over", 2 * time.Hour, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ro, err := repo.Open(ctx, set, id, repo.Options{Now: func() time.Time { return time.Now().Add(tc.offset) }})
			if err != nil {
				t.Fatal(err)
			}
			var problems []check.Problem
			_, err = check.Run(ctx, ro, check.Options{OnProblem: func(p check.Problem) { problems = append(problems, p) }})
			if !tc.want {
				if err != nil || len(problems) > 0 {
					t.Fatalf("check: %v, %v", err, problems)
				}
				return
			}
			if !errors.Is(err, check.ErrProblems) || len(problems) == 0 {
				t.Fatalf("check: %v, %v; want unprotected objects", err, problems)
			}
			for _, p := range problems {
				if p.Region != "eu" || !errors.Is(p.Err, retain.ErrUnprotected) {
					t.Fatalf("problem %v", p)
				}
			}
		})
	}
}
