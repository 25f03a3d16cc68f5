package syncer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// StatePrefix is where sync records its state: StatePrefix+"sync-"+region.
const StatePrefix = "state/"

// StateVersion is the version of the state objects this package writes.
const StateVersion = 1

// maxStateSize bounds a state object accepted by DecodeState.
const maxStateSize = 4096

// State records the last complete sync of a region. It is stored as
// unencrypted JSON: it reveals a region name, a host name and a time.
type State struct {
	Version int `json:"version"`
	// Region is the region that was brought up to date.
	Region string `json:"region"`
	// Time is when that sync finished.
	Time time.Time `json:"time"`
	// Host is the machine that ran it.
	Host string `json:"host"`
}

// StateName is the object name of region's state.
func StateName(region string) string { return StatePrefix + "sync-" + region }

// regionOfState returns the region a state object name is about.
func regionOfState(name string) (string, bool) {
	r, ok := strings.CutPrefix(name, StatePrefix+"sync-")
	return r, ok && r != "" && !strings.Contains(r, "/")
}

// EncodeState returns the JSON form of s.
func EncodeState(s *State) ([]byte, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	return json.Marshal(s)
}

// DecodeState parses a state object strictly: unknown fields, trailing
// data, a version other than StateVersion, an empty region or a zero time
// are errors.
func DecodeState(data []byte) (*State, error) {
	if len(data) > maxStateSize {
		return nil, fmt.Errorf("decode sync state: %d bytes, at most %d allowed", len(data), maxStateSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s State
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("decode sync state: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("decode sync state: trailing data")
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

func (s *State) validate() error {
	switch {
	case s.Version != StateVersion:
		return fmt.Errorf("sync state: unsupported version %d", s.Version)
	case s.Region == "" || strings.Contains(s.Region, "/"):
		return fmt.Errorf("sync state: bad region name %q", s.Region)
	case s.Time.IsZero():
		return errors.New("sync state: no time")
	}
	return nil
}
