package main

import (
	"errors"
	"testing"

	"lifeboat/cmd/lifeboat/internal/config"
	"lifeboat/storage"
	"lifeboat/storage/mem"
	"lifeboat/storage/regions"
)

// noCC is a storage whose conditional creates were found not to work.
type noCC struct {
	storage.Storage
	unverified bool
}

func (n noCC) Capabilities() storage.Capabilities {
	return storage.Capabilities{ConditionalCreateUnverified: n.unverified}
}

func TestRequireConditionalCreate(t *testing.T) {
	for _, tc := range []struct {
		name     string
		lax      storage.Storage // region "lax"; region "good" is a mem storage
		accepted bool            // unsafe_no_conditional_create on lax
		wantErr  bool
	}{
		{"all honour", mem.New(), false, false},
		{"ignored", noCC{Storage: mem.New()}, false, true},
		{"untested", noCC{Storage: mem.New(), unverified: true}, false, true},
		{"ignored, accepted", noCC{Storage: mem.New()}, true, false},
		{"down", regions.Down(errors.New("no answer")), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &config.Config{Regions: []config.Region{
				{Name: "good", Type: config.TypeLocal, Path: "/x"},
				{Name: "lax", Type: config.TypeS3, S3: &config.S3{UnsafeNoConditionalCreate: tc.accepted}},
			}}
			set, err := regions.New([]regions.Region{{Name: "good", Storage: mem.New()}, {Name: "lax", Storage: tc.lax}}, regions.Options{})
			if err != nil {
				t.Fatal(err)
			}
			err = requireConditionalCreate(cfg, set)
			if (err != nil) != tc.wantErr {
				t.Fatalf("requireConditionalCreate = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && (!errors.Is(err, errNoConditionalCreate) || exitCode(err, false) != ExitUsage) {
				t.Fatalf("error %v: want errNoConditionalCreate, exit %d (got %d)", err, ExitUsage, exitCode(err, false))
			}
		})
	}
}

func TestExitCodeConfigError(t *testing.T) {
	err := describeRegionErr(&config.Region{Name: "r", Type: config.TypeS3, S3: &config.S3{AccessKeyEnv: "K", SecretKeyEnv: "S", Bucket: "b"}},
		errors.Join(storage.ErrPermission))
	if !errors.Is(err, storage.ErrConfig) || exitCode(err, false) != ExitUsage {
		t.Fatalf("refused credentials: %v, exit %d; want ErrConfig, exit %d", err, exitCode(err, false), ExitUsage)
	}
	if code := exitCode(storage.MarkTransient(errors.New("connection refused")), false); code != ExitError {
		t.Fatalf("an outage exits %d, want %d", code, ExitError)
	}
}
