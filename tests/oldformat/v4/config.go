package formatv4

import (
	"encoding/json"
	"fmt"
	"time"
)

// Version is the newest repository format version this code reads and
// writes. Readers accept every version in [1, Version]; writers write what
// the repository's config version allows (see TreeEncodingFor), and only
// `lifeboat migrate` raises it. Version 2 stores trees in binary
// (TreeBinary) instead of JSON; version 3 in binary with extension areas
// (TreeBinaryExt), which hold extended attributes and inode flags; version
// 4 records deletions with tombstones (TombstonePrefix) before deleting
// anything. Nothing else differs. FORMAT.md's "Versions of each object kind" says which
// version field governs each object.
const Version = 4

// Algorithm identifiers recorded in the config. They are never reused for a
// different algorithm.
const (
	ChunkerFastCDC = "fastcdc-gear-v1"
	CompressZstd   = "zstd"
	SealAge        = "age-v1-lifeboat-datakey"
	IDHMACSHA256   = "hmac-sha256"
	IDBLAKE3Keyed  = "blake3-keyed"
)

// Config is the repository's config object: fixed at init, sealed with the
// data key, and stored as ConfigName in every region.
type Config struct {
	Version     int          `json:"version"`
	ID          string       `json:"id"` // 32 hex characters, random at init
	Created     time.Time    `json:"created"`
	Chunker     ChunkerParam `json:"chunker"`
	Compression Compression  `json:"compression"`
	Encryption  string       `json:"encryption"`
	IDHash      string       `json:"id_hash"`
	PackSize    int64        `json:"pack_size"`
}

// ChunkerParam records the content-defined chunker's settings.
type ChunkerParam struct {
	Algorithm string `json:"algorithm"`
	Min       int    `json:"min"`
	Avg       int    `json:"avg"`
	Max       int    `json:"max"`
}

// Compression records the codec and the level used for new blobs. Blobs
// carry their own compressed flag, so the level may change without a format
// change.
type Compression struct {
	Algorithm string `json:"algorithm"`
	Level     string `json:"level"`
}

// Limits on stored sizes. Decoders reject anything larger.
const (
	MaxConfigSize   = 64 << 10
	MaxSnapshotSize = 16 << 20
	MaxTreeSize     = 256 << 20
	MaxIndexSize    = 512 << 20
	MaxChunkSize    = 64 << 20
	MaxPackSize     = 1 << 30
)

// Validate checks a config's fields.
func (c *Config) Validate() error {
	const what = "config"
	switch {
	case c.Version < 1:
		return formatErr(what, "version %d", c.Version)
	case c.Version > Version:
		return &VersionError{Object: what, Version: c.Version}
	case len(c.ID) != 32:
		return formatErr(what, "repository id %q", c.ID)
	case c.Chunker.Algorithm != ChunkerFastCDC:
		return formatErr(what, "unknown chunker %q", c.Chunker.Algorithm)
	case c.Chunker.Min < 64 || c.Chunker.Avg <= c.Chunker.Min || c.Chunker.Max <= c.Chunker.Avg ||
		c.Chunker.Max > MaxChunkSize || c.Chunker.Avg&(c.Chunker.Avg-1) != 0:
		return formatErr(what, "chunker sizes %d/%d/%d", c.Chunker.Min, c.Chunker.Avg, c.Chunker.Max)
	case c.Compression.Algorithm != CompressZstd:
		return formatErr(what, "unknown compression %q", c.Compression.Algorithm)
	case c.Encryption != SealAge:
		return formatErr(what, "unknown encryption %q", c.Encryption)
	case c.IDHash != IDHMACSHA256 && c.IDHash != IDBLAKE3Keyed:
		return formatErr(what, "unknown id hash %q", c.IDHash)
	case c.PackSize < 1<<20 || c.PackSize > MaxPackSize:
		return formatErr(what, "pack size %d", c.PackSize)
	}
	for _, ch := range c.ID {
		if !(ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'f') {
			return formatErr(what, "repository id %q", c.ID)
		}
	}
	return nil
}

// VersionError reports an object of a format version newer than this code
// understands. It wraps ErrNewerVersion (not ErrFormat).
type VersionError struct {
	Object  string // "config", "snapshot"
	Version int    // the object's version
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("%s: format version %d is newer than this lifeboat understands (it reads versions 1 to %d): %v",
		e.Object, e.Version, Version, ErrNewerVersion)
}

func (e *VersionError) Unwrap() error { return ErrNewerVersion }

// EncodeConfig encodes a config as JSON.
func EncodeConfig(c *Config) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	return json.Marshal(c)
}

// DecodeConfig decodes and validates a config.
func DecodeConfig(data []byte) (*Config, error) {
	var c Config
	if err := decodeJSON("config", data, MaxConfigSize, &c); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}
