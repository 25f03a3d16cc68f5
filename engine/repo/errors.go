package repo

import (
	"errors"
	"fmt"

	"lifeboat/engine/format"
)

var (
	// ErrNoRepository reports that the storage holds no repository config.
	ErrNoRepository = errors.New("no repository found (run lifeboat init)")
	// ErrAlreadyInitialized reports an init over an existing repository.
	ErrAlreadyInitialized = errors.New("repository already initialized")
	// ErrWrongKey reports that no key object could be opened with the given
	// identity or passphrase.
	ErrWrongKey = errors.New("no key in the repository matches the given identity or passphrase")
	// ErrBlobNotFound reports a blob that the index does not know.
	ErrBlobNotFound = errors.New("blob not in index")
	// ErrLastKey reports an attempt to remove the only key.
	ErrLastKey = errors.New("refusing to remove the last key: the repository would become unreadable")
	// ErrSnapshotNotFound reports a snapshot selector that matched nothing.
	ErrSnapshotNotFound = errors.New("snapshot not found")
)

// IntegrityError reports stored data that failed verification: a hash
// mismatch, an authentication failure or a decoding error. Object names the
// stored object, Blob the blob inside it when known.
type IntegrityError struct {
	Object string
	Blob   format.ID
	Err    error
}

func (e *IntegrityError) Error() string {
	if !e.Blob.IsZero() {
		return fmt.Sprintf("integrity: blob %s in %s: %v", e.Blob.Short(), e.Object, e.Err)
	}
	return fmt.Sprintf("integrity: %s: %v", e.Object, e.Err)
}

func (e *IntegrityError) Unwrap() error { return e.Err }

// ErrHashMismatch reports stored bytes whose hash is not the expected one.
var ErrHashMismatch = errors.New("hash mismatch")
