package formatv4

import (
	"encoding/json"
	"time"
)

// Snapshot is a committed backup: a root tree plus who, when and what. Its
// Version is the repository format version it was written under (never
// above the config's; the repository sets it on commit).
// Stored sealed as SnapshotName(id) where id is the SHA-256 of the sealed
// bytes.
type Snapshot struct {
	Version  int       `json:"version"`
	Time     time.Time `json:"time"`
	Host     string    `json:"host"`
	Username string    `json:"username,omitempty"`
	Paths    []string  `json:"paths"`
	Tags     []string  `json:"tags,omitempty"`
	Parent   *ID       `json:"parent,omitempty"`
	Tree     ID        `json:"tree"`
	Program  string    `json:"program,omitempty"`
	Summary  *Summary  `json:"summary,omitempty"`
}

// Summary holds a backup run's statistics.
type Summary struct {
	Start          time.Time `json:"start"`
	End            time.Time `json:"end"`
	FilesNew       int64     `json:"files_new"`
	FilesChanged   int64     `json:"files_changed"`
	FilesUnchanged int64     `json:"files_unchanged"`
	Dirs           int64     `json:"dirs"`
	Errors         int64     `json:"errors"`
	TotalFiles     int64     `json:"total_files"`
	TotalBytes     int64     `json:"total_bytes"`
	BytesRead      int64     `json:"bytes_read"`
	BlobsAdded     int64     `json:"blobs_added"`
	BytesAdded     int64     `json:"bytes_added"`  // plaintext bytes of new blobs
	BytesStored    int64     `json:"bytes_stored"` // sealed bytes of new packs
	PacksAdded     int64     `json:"packs_added"`
	Partial        bool      `json:"partial,omitempty"` // some files could not be read
}

// EncodeSnapshot encodes a snapshot as JSON.
func EncodeSnapshot(s *Snapshot) ([]byte, error) { return json.Marshal(s) }

// DecodeSnapshot strictly decodes a snapshot.
func DecodeSnapshot(data []byte) (*Snapshot, error) {
	var s Snapshot
	if err := decodeJSON("snapshot", data, MaxSnapshotSize, &s); err != nil {
		return nil, err
	}
	switch {
	case s.Version > Version:
		return nil, &VersionError{Object: "snapshot", Version: s.Version}
	case s.Version < 1:
		return nil, formatErr("snapshot", "version %d", s.Version)
	case s.Tree.IsZero():
		return nil, formatErr("snapshot", "no tree")
	case len(s.Paths) == 0:
		return nil, formatErr("snapshot", "no paths")
	}
	return &s, nil
}
