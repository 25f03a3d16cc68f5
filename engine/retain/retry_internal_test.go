package retain

import (
	"context"
	"errors"
	"testing"

	"lifeboat/storage"
)

func TestWithRetry(t *testing.T) {
	permanent := errors.New("permanent")
	tests := []struct {
		name  string
		fails []error // returned by successive calls, then nil
		calls int
		ok    bool
	}{
		{"success", nil, 1, true},
		{"transient then success", []error{storage.MarkTransient(errors.New("reset"))}, 2, true},
		{"permanent", []error{permanent}, 1, false},
		{"transient every time", []error{storage.MarkTransient(errors.New("a")), storage.MarkTransient(errors.New("b")), storage.MarkTransient(errors.New("c")), nil}, retryAttempts, false},
	}
	for _, tt := range tests {
		calls := 0
		err := withRetry(context.Background(), func() error {
			calls++
			if calls <= len(tt.fails) {
				return tt.fails[calls-1]
			}
			return nil
		})
		if calls != tt.calls || (err == nil) != tt.ok {
			t.Errorf("%s: %d calls, err %v; want %d calls, ok %v", tt.name, calls, err, tt.calls, tt.ok)
		}
	}
}
