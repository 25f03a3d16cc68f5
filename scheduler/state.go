package scheduler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// StateVersion is the version of the state file format.
const StateVersion = 1

// MaxStateSize bounds the size of a state file.
const MaxStateSize = 4 << 20

// ErrBadState marks a state file that cannot be decoded.
var ErrBadState = errors.New("invalid scheduler state")

// Results of a run.
const (
	// ResultSuccess: the job returned nil.
	ResultSuccess = "success"
	// ResultFailure: the job returned an error, panicked or timed out.
	ResultFailure = "failure"
	// ResultSkipped: the job returned an error wrapping ErrSkipped (it
	// decided not to run, e.g. another host holds a lock).
	ResultSkipped = "skipped"
	// ResultInterrupted: Stop canceled the run.
	ResultInterrupted = "interrupted"
)

// State is what the scheduler keeps in its state file: the last run of
// every job, so that a restarted daemon can catch up and report history.
type State struct {
	Version int                 `json:"version"`
	Jobs    map[string]JobState `json:"jobs"`
}

// JobState is the persisted record of one job.
type JobState struct {
	// Spec is the job's schedule when it last ran.
	Spec string `json:"spec"`
	// LastStart and LastEnd bound the last run (LastEnd is zero while it
	// runs, or when the daemon died during it).
	LastStart time.Time `json:"last_start,omitzero"`
	LastEnd   time.Time `json:"last_end,omitzero"`
	// LastSuccess is when the last successful run ended.
	LastSuccess time.Time `json:"last_success,omitzero"`
	// Result is one of the Result constants ("" before the first run ends).
	Result string `json:"result,omitempty"`
	// Error is the last run's error message.
	Error string `json:"error,omitempty"`
	// Runs and Failures count runs that ended, and those among them that
	// failed or were interrupted.
	Runs     int64 `json:"runs,omitempty"`
	Failures int64 `json:"failures,omitempty"`
}

// EncodeState returns the JSON form of s.
func EncodeState(s *State) ([]byte, error) {
	out := State{Version: StateVersion, Jobs: s.Jobs}
	if out.Jobs == nil {
		out.Jobs = map[string]JobState{}
	}
	b, err := json.MarshalIndent(&out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode scheduler state: %w", err)
	}
	return append(b, '\n'), nil
}

// DecodeState parses and validates a state file's contents.
func DecodeState(data []byte) (*State, error) {
	if len(data) > MaxStateSize {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrBadState, len(data), MaxStateSize)
	}
	var s State
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadState, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrBadState)
	}
	if s.Version != StateVersion {
		return nil, fmt.Errorf("%w: version %d (want %d)", ErrBadState, s.Version, StateVersion)
	}
	if s.Jobs == nil {
		s.Jobs = map[string]JobState{}
	}
	for name, j := range s.Jobs {
		switch {
		case name == "" || len(name) > maxNameLen:
			return nil, fmt.Errorf("%w: job name of %d bytes", ErrBadState, len(name))
		case j.Runs < 0 || j.Failures < 0 || j.Failures > j.Runs:
			return nil, fmt.Errorf("%w: job %s: bad counters", ErrBadState, name)
		}
		switch j.Result {
		case "", ResultSuccess, ResultFailure, ResultSkipped, ResultInterrupted:
		default:
			return nil, fmt.Errorf("%w: job %s: unknown result %q", ErrBadState, name, j.Result)
		}
	}
	return &s, nil
}

// ReadState reads a state file. A missing file is an empty state.
func ReadState(path string) (*State, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return &State{Version: StateVersion, Jobs: map[string]JobState{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read scheduler state: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxStateSize+1))
	if err != nil {
		return nil, fmt.Errorf("read scheduler state %s: %w", path, err)
	}
	s, err := DecodeState(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// writeState replaces the state file atomically (temporary file, fsync,
// rename), creating its directory.
func writeState(path string, s *State) error {
	data, err := EncodeState(s)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write scheduler state: %w", err)
	}
	f, err := os.CreateTemp(dir, ".state-*.tmp")
	if err != nil {
		return fmt.Errorf("write scheduler state: %w", err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("write scheduler state %s: %w", path, werr)
	}
	return nil
}
