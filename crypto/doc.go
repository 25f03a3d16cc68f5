// Package crypto owns every cryptographic decision of lifeboat: the
// repository master key and the keys derived from it, wrapping the master key
// to age recipients (X25519, post-quantum hybrid, SSH keys, passphrases),
// sealing stored objects with the data key in the age format, and the keyed
// hash that names chunks and blobs.
//
// It is the only package that imports filippo.io/age, and it imports no
// other lifeboat package.
//
// Errors: opening or unwrapping with the wrong key yields an error wrapping
// [ErrWrongKey]; malformed, truncated or tampered input yields an error
// wrapping [ErrCorrupt]; an encrypted SSH private key parsed without a
// passphrase callback yields an error wrapping [ErrPassphraseNeeded].
// Errors of the caller's io.ReaderAt are passed through (wrapped) unchanged.
package crypto

import "errors"

var (
	// ErrWrongKey reports that none of the given keys or identities can open
	// the object: it was sealed or wrapped for somebody else, or the
	// passphrase is wrong.
	ErrWrongKey = errors.New("wrong key")
	// ErrCorrupt reports sealed or wrapped data that is malformed,
	// truncated or has been tampered with.
	ErrCorrupt = errors.New("corrupt encrypted data")
	// ErrPassphraseNeeded reports an encrypted SSH private key that was
	// parsed without a way to obtain its passphrase.
	ErrPassphraseNeeded = errors.New("passphrase needed")
)
