package restore

import (
	"testing"

	"lifeboat/storage"
)

// Restores from remote storage keep as many reads in flight as the storage
// wants (up to twice the local number), local ones one per core and one.
func TestDefaultWorkers(t *testing.T) {
	for _, c := range []struct {
		name  string
		procs int
		caps  storage.Capabilities
		want  int
	}{
		{"local", 2, storage.Capabilities{Local: true, Concurrency: 4}, 3},
		{"s3 on 2 cores", 2, storage.Capabilities{Concurrency: 8}, 6},
		{"s3 on 8 cores", 8, storage.Capabilities{Concurrency: 8}, 9},
		{"remote, no preference", 2, storage.Capabilities{}, 3},
		{"remote, 16 wanted on 4 cores", 4, storage.Capabilities{Concurrency: 16}, 10},
	} {
		if got := defaultWorkers(c.procs, c.caps); got != c.want {
			t.Errorf("%s: %d workers, want %d", c.name, got, c.want)
		}
	}
}
