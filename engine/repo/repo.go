package repo

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"lifeboat/crypto"
	"lifeboat/engine/chunker"
	"lifeboat/engine/compress"
	"lifeboat/engine/format"
	"lifeboat/storage"
)

// Repository is an open repository. It is safe for concurrent use.
type Repository struct {
	st      storage.Storage
	cfg     *format.Config
	master  *crypto.MasterKey
	dk      *crypto.DataKey
	idh     *crypto.IDHasher
	gear    *chunker.Gear
	level   compress.Level
	cache   *cache
	now     func() time.Time
	keyName string // the key object this session opened the repository with

	idx     *Index
	trees   *treePacks
	headers *headerCache // snapshot headers (snapcache.go)
	indexes *indexCache  // small index objects (indexcache.go)
	tmpDir  string

	reads      readTracker
	heads      packHeads // header and final chunk of recently read packs
	repair     bool
	noFailover bool

	writeMu sync.Mutex
	writer  *writer       // nil until the first SaveBlob
	adopted []adoptedPack // adopted since the last Flush (AdoptOrphans)

	chain *chainSession // commit chain bookkeeping (chain.go)
}

// Options tune how a repository is opened or created.
type Options struct {
	// CacheDir, when set, keeps verified copies of index, snapshot and tree
	// objects there (not for storages that are local), and, for every
	// storage, the sealed headers of the snapshots read (snapcache.go).
	CacheDir string
	// CacheIndex, with CacheDir, keeps the plaintext of the small index
	// objects read (one per backup since the last prune) in one sealed
	// local file, so that LoadIndex does not read, hash and decrypt each
	// of them again (indexcache.go); Flush writes it. Leave it off where
	// every index object must be read from the storage (check).
	CacheIndex bool
	// Now replaces time.Now (tests).
	Now func() time.Time
	// Rand replaces crypto/rand for secrets and IDs (tests).
	Rand io.Reader
	// Concurrency bounds parallel uploads (0: from the storage's capabilities).
	Concurrency int
	// TempDir holds packs being written, unlinked ("": the system's). In
	// the directory of a local region (or on its file system), that region
	// stores each pack by linking the file, without a copy.
	TempDir string
	// StateDir, when set, keeps what this host last saw of the
	// repository's history (chain.go), so that VerifyHistory detects
	// history going backwards. Unlike the cache it must not be cleared.
	StateDir string
	// Host names this host in commit records ("": os.Hostname).
	Host string
}

func (o *Options) defaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
}

// InitOptions describe a new repository.
type InitOptions struct {
	Options
	Recipient   *crypto.Recipient
	KeyLabel    string
	Host        string
	Username    string
	Chunker     chunker.Params
	Compression compress.Level
	PackSize    int64
	// FormatVersion is the repository's format version (0: format.Version).
	// An older one keeps the repository readable by older releases.
	FormatVersion int
}

// DefaultPackSize is the target size of a pack's plaintext.
const DefaultPackSize = 16 << 20

// Init creates a repository in st: a config object and one key object
// wrapping a fresh master secret to opts.Recipient. It refuses a storage that
// already holds a config (ErrAlreadyInitialized). The key is written first
// and the config with a conditional create; an init that loses that create
// to a concurrent one removes its key again, so the loser's identity opens
// nothing (ErrWrongKey) rather than finding a key of no repository. It
// refuses append-only storage (storage.ErrAppendOnly): a lost create would
// leave that config and key in place.
func Init(ctx context.Context, st storage.Storage, opts InitOptions) (*Repository, error) {
	opts.defaults()
	if opts.Recipient == nil {
		return nil, errors.New("init: no recipient for the first key")
	}
	if st.Capabilities().AppendOnly {
		return nil, fmt.Errorf("init: %w", storage.ErrAppendOnly)
	}
	if _, err := st.Stat(ctx, format.ConfigName); err == nil {
		return nil, ErrAlreadyInitialized
	} else if !errors.Is(err, storage.ErrNotExist) {
		return nil, fmt.Errorf("init: %w", err)
	}
	if opts.Chunker == (chunker.Params{}) {
		opts.Chunker = chunker.DefaultParams
	}
	if err := opts.Chunker.Validate(); err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	if opts.Compression == 0 {
		// Measured on the 1 GiB benchmark tree: "auto" stores 0.35% more
		// than "default" (still less than restic) for 13% less CPU in
		// an initial backup; "fastest" stores 1.5% more.
		opts.Compression = compress.LevelAuto
	}
	if opts.PackSize == 0 {
		opts.PackSize = DefaultPackSize
	}
	master, err := crypto.NewMasterKey(opts.Rand)
	if err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	var rid [16]byte
	if _, err := io.ReadFull(opts.Rand, rid[:]); err != nil {
		return nil, fmt.Errorf("init: repository id: %w", err)
	}
	if opts.FormatVersion == 0 {
		opts.FormatVersion = format.Version
	}
	cfg := &format.Config{
		Version: opts.FormatVersion,
		ID:      hex.EncodeToString(rid[:]),
		Created: opts.Now().UTC(),
		Chunker: format.ChunkerParam{
			Algorithm: format.ChunkerFastCDC,
			Min:       opts.Chunker.Min, Avg: opts.Chunker.Avg, Max: opts.Chunker.Max,
		},
		Compression: format.Compression{Algorithm: format.CompressZstd, Level: opts.Compression.String()},
		Encryption:  format.SealAge,
		IDHash:      crypto.IDHashName,
		PackSize:    opts.PackSize,
	}
	r, err := newRepository(st, cfg, master, opts.Options)
	if err != nil {
		return nil, err
	}
	plain, err := format.EncodeConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	sealed, err := r.dk.Seal(plain)
	if err != nil {
		return nil, fmt.Errorf("init: seal config: %w", err)
	}
	// The key goes first: a config without a key would be unreadable.
	name, err := r.addKey(ctx, opts.Recipient, opts.KeyLabel, opts.Host, opts.Username)
	if err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	r.keyName = name
	if err := storage.PutBytes(ctx, st, format.ConfigName, sealed, storage.PutOptions{IfNotExists: true}); err != nil {
		if errors.Is(err, storage.ErrExist) {
			// Another init won: the config is not ours, so our key
			// wraps a master key no config uses, and opening the
			// repository with our identity would find it and fail.
			// Remove it. (On any other failure the config may have been
			// stored after all, and then needs the key.)
			if derr := removeKey(ctx, st, name); derr != nil {
				return nil, fmt.Errorf("%w (%w; and the key written for it could not be removed: %w)", ErrAlreadyInitialized, err, derr)
			}
			return nil, fmt.Errorf("%w (%w)", ErrAlreadyInitialized, err)
		}
		return nil, fmt.Errorf("init: write config: %w", err)
	}
	r.chain.configHash = format.ID(sha256.Sum256(sealed))
	// The first record of the commit chain names the config and key.
	// Best effort: without it, the first writer's start record names
	// them (a repository nobody recorded yet).
	_ = r.recordInit(ctx, name)
	return r, nil
}

func newRepository(st storage.Storage, cfg *format.Config, master *crypto.MasterKey, opts Options) (*Repository, error) {
	if cfg.IDHash != crypto.IDHashName {
		return nil, fmt.Errorf("repository uses id hash %q, this build supports %q", cfg.IDHash, crypto.IDHashName)
	}
	level, err := compress.ParseLevel(cfg.Compression.Level)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	r := &Repository{
		st:     st,
		cfg:    cfg,
		master: master,
		dk:     master.DataKey(),
		idh:    master.IDKey(),
		gear:   chunker.NewGear(master.Derive("chunker gear", 32)),
		level:  level,
		now:    opts.Now,
		idx:    newIndex(),
		trees:  newTreePacks(treePackCacheBytes),
		tmpDir: opts.TempDir,
		chain:  newChainSession(st, opts),
		// Decoding the headers costs more than reading them, so they
		// are cached for local storages too.
		headers: newHeaderCache(opts.CacheDir, cfg.ID),
		indexes: newIndexCache(opts.CacheDir, cfg.ID, opts.CacheIndex),
	}
	if opts.CacheDir != "" && !st.Capabilities().Local {
		r.cache = newCache(opts.CacheDir, cfg.ID)
	}
	return r, nil
}

// Open opens the repository in st with id: it finds a key object that id can
// unwrap, then reads and authenticates the config. It does not load the
// index; call LoadIndex.
func Open(ctx context.Context, st storage.Storage, id *crypto.Identity, opts Options) (*Repository, error) {
	opts.defaults()
	sealedCfg, err := storage.ReadAll(ctx, st, format.ConfigName)
	if errors.Is(err, storage.ErrNotExist) {
		return nil, ErrNoRepository
	} else if err != nil {
		return nil, fmt.Errorf("open: read config: %w", err)
	}
	keys, damaged, err := listKeys(ctx, st)
	if err != nil {
		return nil, err
	}
	// A removed key (tombstoned) must not open the repository, even
	// where its object is still present (a region that was down): its
	// tombstone is checked with the master secret it unwraps, so that a
	// forged tombstone cannot lock a key out.
	revoked, err := tombstoneNames(ctx, st, format.KeysPrefix)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	var master *crypto.MasterKey
	var keyName string
	var firstErr error
	for _, k := range keys {
		m, err := crypto.UnwrapMasterKey(k.Key.Wrapped, id)
		if err == nil && revoked[k.Name] && buried(ctx, st, tombstoneKey(m), k.Name) {
			if firstErr == nil {
				firstErr = fmt.Errorf("key %s was removed (tombstoned)", k.ID.Short())
			}
			continue
		}
		if err == nil {
			master, keyName = m, k.Name
			break
		}
		if !errors.Is(err, crypto.ErrWrongKey) && firstErr == nil {
			firstErr = fmt.Errorf("key %s: %w", k.ID.Short(), err)
		}
	}
	if master == nil {
		if len(damaged) > 0 {
			// One of them may have been this identity's.
			return nil, fmt.Errorf("%w; %d key object(s) damaged in every region, which may include yours (run lifeboat sync --verify): %w",
				ErrWrongKey, len(damaged), errors.Join(damaged...))
		}
		if firstErr != nil {
			return nil, fmt.Errorf("%w (%w)", ErrWrongKey, firstErr)
		}
		return nil, ErrWrongKey
	}
	copies := []ConfigCopy{{Sealed: sealedCfg}}
	if rs := regionsOf(st); rs != nil && len(rs.Replicas()) > 1 {
		// Every region's copy: they differ in version while a migrate
		// is unfinished (resolveConfig).
		copies = configCopies(ctx, rs.Replicas(), master.DataKey())
	} else {
		copies[0].Config, copies[0].Err = openConfig(master.DataKey(), sealedCfg)
	}
	cfg, err := resolveConfig(copies)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	r, err := newRepository(st, cfg, master, opts)
	if err != nil {
		return nil, err
	}
	r.keyName = keyName
	r.chain.configHash = format.ID(sha256.Sum256(sealedCfg))
	return r, nil
}

// Config returns the repository config. Its Version is FormatVersion's.
func (r *Repository) Config() *format.Config { return r.cfg }

// Storage returns the storage the repository lives in.
func (r *Repository) Storage() storage.Storage { return r.st }

// Index returns the in-memory index (populated by LoadIndex and by writes).
func (r *Repository) Index() *Index { return r.idx }

// Now returns the repository's notion of the current time.
func (r *Repository) Now() time.Time { return r.now() }

// Hash returns the keyed ID of a blob's plaintext.
func (r *Repository) Hash(data []byte) format.ID { return format.ID(r.idh.Sum(data)) }

// FileHash returns a file's whole-content hash from its size and blob list.
func (r *Repository) FileHash(size uint64, content []format.ID) format.ID {
	return r.Hash(format.FileHashInput(size, content))
}

// ChunkerParams returns the repository's chunker parameters.
func (r *Repository) ChunkerParams() chunker.Params {
	c := r.cfg.Chunker
	return chunker.Params{Min: c.Min, Avg: c.Avg, Max: c.Max}
}

// Gear returns the repository's keyed chunker table.
func (r *Repository) Gear() *chunker.Gear { return r.gear }

// Compression returns the level for new blobs.
func (r *Repository) Compression() compress.Level { return r.level }

func (r *Repository) concurrency() int {
	if c := r.st.Capabilities().Concurrency; c > 0 {
		return min(c, 8)
	}
	return max(2, runtime.GOMAXPROCS(0))
}

// sealAndName seals plain and returns the sealed bytes and their SHA-256.
func (r *Repository) sealAndName(plain []byte) ([]byte, format.ID, error) {
	sealed, err := r.dk.Seal(plain)
	if err != nil {
		return nil, format.ID{}, err
	}
	return sealed, format.ID(sha256.Sum256(sealed)), nil
}

// readVerified reads a whole content-addressed object, checks its SHA-256
// against id, and opens it with the data key, failing over to another
// region when a copy is missing or bad.
func (r *Repository) readVerified(ctx context.Context, name string, id format.ID) ([]byte, error) {
	var plain []byte
	err := r.withReplicas(ctx, name, func(rep storage.Replica) error {
		var sealed []byte
		var err error
		if r.cache != nil {
			sealed, err = r.cache.get(ctx, rep.Reader, name, id)
		} else {
			sealed, err = storage.ReadAll(ctx, rep.Reader, name)
			if err == nil && format.ID(sha256.Sum256(sealed)) != id {
				err = &IntegrityError{Object: name, Err: ErrHashMismatch}
			}
		}
		if err != nil {
			return err
		}
		p, err := r.dk.Open(sealed)
		if err != nil {
			return &IntegrityError{Object: name, Err: err}
		}
		r.reads.served(rep.Region, int64(len(sealed)))
		plain = p
		return nil
	})
	return plain, err
}

// writeSealed seals plain and stores it as prefix+hash, returning the ID.
func (r *Repository) writeSealed(ctx context.Context, nameOf func(format.ID) string, plain []byte, opt storage.PutOptions) (format.ID, error) {
	sealed, id, err := r.sealAndName(plain)
	if err != nil {
		return id, err
	}
	name := nameOf(id)
	if err := storage.PutBytes(ctx, r.st, name, sealed, opt); err != nil {
		return id, fmt.Errorf("write %s: %w", name, err)
	}
	if r.cache != nil {
		r.cache.put(name, sealed)
	}
	return id, nil
}

// listAll lists prefix in st, across all regions of a region set (so a
// region that is behind cannot hide objects).
func listAll(ctx context.Context, st storage.Reader, prefix string, fn func(storage.Info) error) error {
	if rs := regionsOf(st); rs != nil {
		return rs.ListUnion(ctx, prefix, fn)
	}
	return st.List(ctx, prefix, fn)
}

// List lists the repository's objects under prefix (across all regions of
// a region set).
func (r *Repository) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	return listAll(ctx, r.st, prefix, fn)
}

// listIDs lists the IDs of the objects under prefix, sorted.
func listIDs(ctx context.Context, st storage.Reader, prefix string) ([]format.ID, error) {
	var ids []format.ID
	err := listAll(ctx, st, prefix, func(fi storage.Info) error {
		id, err := format.ParseName(prefix, fi.Name)
		if err != nil {
			return nil // foreign object: not ours to judge here (check reports it)
		}
		ids = append(ids, id)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", strings.TrimSuffix(prefix, "/"), err)
	}
	sort.Slice(ids, func(i, j int) bool { return string(ids[i][:]) < string(ids[j][:]) })
	return ids, nil
}
