package repo

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"lifeboat/engine/format"
	"lifeboat/storage"
)

// The commit chains (FORMAT.md §19). Every writer of a repository of
// format version format.ChainVersion or later appends, after each commit
// (a snapshot, a key, a config, prune's index objects), one record to its
// own chain, chain/<writer>/<seq>, by conditional create. A record names
// the SHA-256 of the record before it and what was committed, and carries
// an HMAC keyed by the repository secret: without a key nobody can write
// one, and a holder of a key cannot rewrite records other hosts have seen
// without their noticing (VerifyHistory).

var (
	// ErrNotChained reports a commit that succeeded but whose commit
	// record could not be appended: the committed object exists, but
	// rollback detection does not cover it.
	ErrNotChained = errors.New("commit not recorded in the commit chain")
	// ErrChainForged reports a commit record that does not authenticate
	// with the repository key (written without the key, or damaged).
	ErrChainForged = errors.New("commit record does not authenticate with the repository key")
)

// chainAppendAttempts bounds the conditional creates an append tries when
// another process of the same writer takes the sequence number first.
const chainAppendAttempts = 8

// chainKey derives the key of commit record MACs from a master secret.
func (r *Repository) chainKey() []byte { return r.master.Derive("chain mac", 32) }

func chainMAC(key []byte, name string, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(format.ChainMACInput(name, body))
	return h.Sum(nil)
}

// chainSession is a repository's commit chain bookkeeping.
type chainSession struct {
	stateDir string
	host     string
	// configHash is the SHA-256 of the sealed config the repository was
	// opened with (zero when it was not read, as in tests).
	configHash format.ID

	mu sync.Mutex
	// index holds the index objects this session made durable that are
	// not recorded yet (Flush, WriteIndexObject).
	index []format.ID
	// seen holds the heads of other writers' chains VerifyHistory
	// verified, for the Seen field of the records this session appends.
	seen map[string]format.ChainHead
}

// newChainSession starts the bookkeeping of a repository opened on st. A
// read-only storage (a view, such as the repository as of a past time) is
// verified against its chains alone: this host's state describes the live
// repository, and the view would seem to have gone back from it.
func newChainSession(st storage.Storage, opts Options) *chainSession {
	host := opts.Host
	if host == "" {
		host, _ = os.Hostname()
	}
	dir := opts.StateDir
	if st.Capabilities().ReadOnly {
		dir = ""
	}
	return &chainSession{stateDir: dir, host: host, seen: map[string]format.ChainHead{}}
}

// chaining reports whether this repository's writers append commit
// records.
func (r *Repository) chaining() bool {
	return r.cfg.Version >= format.ChainVersion && !r.st.Capabilities().ReadOnly
}

// ChainWriter returns this host's writer ID: derived from the host name
// and the key object the repository was opened with, keyed by the
// repository secret (so it reveals neither).
func (r *Repository) ChainWriter() string {
	h := hmac.New(sha256.New, r.chainKey())
	h.Write([]byte("lifeboat chain writer\x00" + r.chain.host + "\x00" + r.keyName))
	return hex.EncodeToString(h.Sum(nil))[:format.ChainWriterLen]
}

// noteIndex remembers index objects this session made durable, for the
// next commit record.
func (r *Repository) noteIndex(ids ...format.ID) {
	r.chain.mu.Lock()
	r.chain.index = append(r.chain.index, ids...)
	r.chain.mu.Unlock()
}

// readChainRecord reads the record name from the first region whose copy
// authenticates, returning it decoded and its stored bytes.
func (r *Repository) readChainRecord(ctx context.Context, name string) (*format.ChainRecord, []byte, error) {
	key := r.chainKey()
	var firstErr error
	for _, rep := range r.replicas() {
		data, err := storage.ReadAll(ctx, rep.Reader, name)
		if err == nil {
			var rec *format.ChainRecord
			if rec, err = verifyChainRecord(key, name, data); err == nil {
				return rec, data, nil
			}
		}
		if firstErr == nil || errors.Is(firstErr, storage.ErrNotExist) {
			firstErr = err
		}
	}
	if firstErr == nil {
		firstErr = fmt.Errorf("%s: %w", name, storage.ErrNotExist)
	}
	return nil, nil, firstErr
}

// verifyChainRecord checks a stored record's MAC, then decodes its body.
func verifyChainRecord(key []byte, name string, data []byte) (*format.ChainRecord, error) {
	body, mac, err := format.SplitChainObject(data)
	if err != nil {
		return nil, &IntegrityError{Object: name, Err: err}
	}
	if !hmac.Equal(mac, chainMAC(key, name, body)) {
		return nil, &IntegrityError{Object: name, Err: ErrChainForged}
	}
	rec, err := format.DecodeChainBody(name, body)
	if err != nil {
		return nil, &IntegrityError{Object: name, Err: err}
	}
	return rec, nil
}

// chainSeqs lists the sequence numbers of writer's chain (every region),
// sorted.
func (r *Repository) chainSeqs(ctx context.Context, writer string) ([]uint64, error) {
	var seqs []uint64
	err := listAll(ctx, r.st, format.ChainPrefix+writer+"/", func(fi storage.Info) error {
		if w, s, err := format.ParseChainName(fi.Name); err == nil && w == writer {
			seqs = append(seqs, s)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s%s: %w", format.ChainPrefix, writer, err)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	return seqs, nil
}

// anyChain reports whether some writer has appended a record.
func (r *Repository) anyChain(ctx context.Context) (bool, error) {
	errFound := errors.New("found")
	err := listAll(ctx, r.st, format.ChainPrefix, func(fi storage.Info) error {
		if _, _, err := format.ParseChainName(fi.Name); err == nil {
			return errFound
		}
		return nil
	})
	if errors.Is(err, errFound) {
		return true, nil
	}
	return false, err
}

// appendChain appends rec (Op and the committed objects set) to this
// writer's chain, with the session's pending index objects. A writer's
// first record is preceded by a "start" record naming the keys and
// snapshots it found (and the config, when no writer recorded one). It
// does nothing in a repository of a version before format.ChainVersion.
func (r *Repository) appendChain(ctx context.Context, rec format.ChainRecord) error {
	if !r.chaining() {
		return nil
	}
	r.chain.mu.Lock()
	pending := r.chain.index
	r.chain.index = nil
	r.chain.mu.Unlock()
	rec.Index = format.SortChainIDs(append(rec.Index, pending...))
	err := r.appendRecord(ctx, rec)
	if err != nil {
		r.noteIndex(pending...) // for the next record
		return fmt.Errorf("%w: %w", ErrNotChained, err)
	}
	return nil
}

func (r *Repository) appendRecord(ctx context.Context, rec format.ChainRecord) error {
	writer := r.ChainWriter()
	key := r.chainKey()
	defer r.lockChain()()
	st := r.loadChainState()
	var lastErr error
	for range chainAppendAttempts {
		seqs, err := r.chainSeqs(ctx, writer)
		if err != nil {
			return err
		}
		var head format.ChainHead
		if n := len(seqs); n > 0 {
			name := format.ChainName(writer, seqs[n-1])
			_, data, err := r.readChainRecord(ctx, name)
			if err != nil {
				return fmt.Errorf("head of the chain: %w", err)
			}
			head = format.ChainHead{Writer: writer, Seq: seqs[n-1], Hash: format.ID(sha256.Sum256(data))}
		}
		if own := st.Heads[writer]; own.Seq > head.Seq {
			// The chain lost records this host appended: continue
			// after them, so the gap stays visible to every host.
			head = own
		}
		if head.Seq == 0 && rec.Op != format.ChainInit {
			start, err := r.startRecord(ctx)
			if err != nil {
				return err
			}
			h, err := r.putRecord(ctx, key, writer, head, start)
			if errors.Is(err, storage.ErrExist) {
				lastErr = err
				continue
			}
			if err != nil {
				return err
			}
			r.chainRecorded(start, h)
			head = h
		}
		h, err := r.putRecord(ctx, key, writer, head, rec)
		if errors.Is(err, storage.ErrExist) {
			lastErr = err
			continue
		}
		if err != nil {
			return err
		}
		r.chainRecorded(rec, h)
		return nil
	}
	return fmt.Errorf("append to chain %s: %d attempts lost the race: %w", writer, chainAppendAttempts, lastErr)
}

// startRecord is a writer's first record: the keys and snapshots it finds
// (not tombstoned), and the config when no writer has recorded one.
func (r *Repository) startRecord(ctx context.Context) (format.ChainRecord, error) {
	rec := format.ChainRecord{Op: format.ChainStart}
	snaps, err := r.snapshotIDs(ctx)
	if err != nil {
		return rec, err
	}
	keys, err := listIDs(ctx, r.st, format.KeysPrefix)
	if err != nil {
		return rec, err
	}
	if keys, err = r.dropBuried(ctx, format.KeysPrefix, format.KeyName, keys); err != nil {
		return rec, err
	}
	rec.Snapshots, rec.Keys = format.SortChainIDs(snaps), format.SortChainIDs(keys)
	any, err := r.anyChain(ctx)
	if err != nil {
		return rec, err
	}
	if !any && !r.chain.configHash.IsZero() {
		rec.Config = &format.ChainConfigRef{Hash: r.chain.configHash, Version: r.cfg.Version}
	}
	return rec, nil
}

// putRecord creates the record after head.
func (r *Repository) putRecord(ctx context.Context, key []byte, writer string, head format.ChainHead, rec format.ChainRecord) (format.ChainHead, error) {
	rec.Version = format.ChainRecordVersion
	rec.Writer, rec.Seq = writer, head.Seq+1
	rec.Prev = nil
	if head.Seq > 0 {
		p := head.Hash
		rec.Prev = &p
	}
	rec.Time = r.now().UTC().Round(0)
	rec.Host = r.chain.host
	rec.Seen = r.seenHeads(writer)
	body, err := format.EncodeChainBody(&rec)
	if err != nil {
		return head, err
	}
	name := format.ChainName(writer, rec.Seq)
	obj := format.ChainObject(body, chainMAC(key, name, body))
	if err := storage.PutBytes(ctx, r.st, name, obj, storage.PutOptions{IfNotExists: true}); err != nil {
		return head, fmt.Errorf("write %s: %w", name, err)
	}
	return format.ChainHead{Writer: writer, Seq: rec.Seq, Hash: format.ID(sha256.Sum256(obj))}, nil
}

func (r *Repository) seenHeads(self string) []format.ChainHead {
	r.chain.mu.Lock()
	defer r.chain.mu.Unlock()
	var out []format.ChainHead
	for w, h := range r.chain.seen {
		if w != self {
			out = append(out, h)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Writer < out[j].Writer })
	return out
}

// chainRecorded adds a record this host appended to its local state: the
// head advances only when the records before it are known there (else
// the next VerifyHistory reads them).
func (r *Repository) chainRecorded(rec format.ChainRecord, h format.ChainHead) {
	if r.chain.stateDir == "" {
		return
	}
	r.updateChainStateLocked(func(st *chainState) {
		rec.Host = r.chain.host
		st.addRecord(&rec, format.ChainName(h.Writer, h.Seq))
		if st.Heads[h.Writer].Seq == h.Seq-1 {
			st.Heads[h.Writer] = h
		}
	}, true) // appendRecord holds the lock
}

// RecordConfig appends a record naming sealed as the repository's config
// (`lifeboat migrate` calls it before replacing the config): VerifyHistory
// reports a region whose config is one no record names. version is the
// format version sealed holds.
func (r *Repository) RecordConfig(ctx context.Context, sealed []byte, version int) error {
	if version < format.ChainVersion || r.st.Capabilities().ReadOnly {
		return nil
	}
	return r.appendRecord(ctx, format.ChainRecord{Op: format.ChainConfig,
		Config: &format.ChainConfigRef{Hash: format.ID(sha256.Sum256(sealed)), Version: version}})
}

// chainOrigin describes where a committed object was recorded, for
// messages.
func chainOrigin(origin, host string) string {
	if host == "" {
		return origin
	}
	return origin + " (host " + host + ")"
}

func isChainName(name string) bool { return strings.HasPrefix(name, format.ChainPrefix) }

// recordInit appends the init record: the config and the first key.
func (r *Repository) recordInit(ctx context.Context, keyName string) error {
	if !r.chaining() {
		return nil
	}
	id, err := format.ParseName(format.KeysPrefix, keyName)
	if err != nil {
		return err
	}
	return r.appendRecord(ctx, format.ChainRecord{Op: format.ChainInit, Keys: []format.ID{id},
		Config: &format.ChainConfigRef{Hash: r.chain.configHash, Version: r.cfg.Version}})
}

// recordSnapshot appends the commit record of snapshot id, with the
// index objects the session made durable.
func (r *Repository) recordSnapshot(ctx context.Context, id format.ID) error {
	return r.appendChain(ctx, format.ChainRecord{Op: format.ChainBackup, Snapshots: []format.ID{id}})
}

// VerifyChainRecord checks that data, stored as the commit record name, is
// well formed and authenticates with this repository's key. A keyed sync
// copies only such records.
func (r *Repository) VerifyChainRecord(name string, data []byte) error {
	_, err := verifyChainRecord(r.chainKey(), name, data)
	return err
}
