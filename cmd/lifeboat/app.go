package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"lifeboat/cmd/lifeboat/internal/config"
	"lifeboat/crypto"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage"
)

// app holds the CLI's state for one invocation.
type app struct {
	// readOnlyOpen is set by commands that only read (restore, ls,
	// snapshots): they start once one region has opened (openMode).
	readOnlyOpen bool

	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	flags struct {
		config, repo, identity, cacheDir string
		noCache, json, quiet             bool
		asOf                             string // --as-of (asof.go)
	}
	cfg *config.Config
	// hostState is the daemon's state directory, where it keeps what it
	// saw of the repository's history (hostStateDir).
	hostState string
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *app {
	return &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
}

func formatVersion() int { return format.Version }

// loadConfig resolves the configuration: --repo, else --config, else
// LIFEBOAT_CONFIG, else ./lifeboat.yaml. A missing default file is not an
// error here; commands that need regions report it.
func (a *app) loadConfig(cmd *cobra.Command) error {
	if a.flags.repo != "" {
		if a.flags.config != "" {
			return usageErr("--repo and --config exclude each other")
		}
		abs, err := filepath.Abs(a.flags.repo)
		if err != nil {
			return usageErr("--repo: %v", err)
		}
		a.cfg = config.LocalRepo(abs)
		return nil
	}
	path := a.flags.config
	if path == "" {
		path = a.getenv("LIFEBOAT_CONFIG")
	}
	explicit := path != ""
	if path == "" {
		path = "lifeboat.yaml"
	}
	cfg, err := config.Load(path)
	if err != nil {
		if !explicit && errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return withCode(ExitUsage, err)
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(a.stderr, "lifeboat: warning: %s\n", w)
	}
	a.cfg = cfg
	return nil
}

func (a *app) needConfig() (*config.Config, error) {
	if a.cfg == nil {
		return nil, usageErr("no repository configured: pass --repo PATH, --config FILE, set LIFEBOAT_CONFIG, or create ./lifeboat.yaml")
	}
	return a.cfg, nil
}

// source returns the configured source called name; an unknown name is a
// usage error naming the configured sources.
func (a *app) source(name string) (*config.Source, error) {
	cfg, err := a.needConfig()
	if err != nil {
		return nil, err
	}
	if src := cfg.Source(name); src != nil {
		return src, nil
	}
	var names []string
	for _, s := range cfg.Sources {
		names = append(names, s.Name)
	}
	if len(names) == 0 {
		return nil, usageErr("no source %q in the configuration: it has no sources", name)
	}
	return nil, usageErr("no source %q in the configuration; its sources: %s", name, strings.Join(names, ", "))
}

// openStorage builds the storage of every configured region.
func (a *app) openStorage(ctx context.Context, create bool) (storage.Storage, error) {
	cfg, err := a.needConfig()
	if err != nil {
		return nil, err
	}
	mode := openMode{create: create, readOnly: a.readOnlyOpen && !create}
	if err := a.openAsOf(&mode); err != nil {
		return nil, err
	}
	return buildStorageFor(ctx, cfg, mode, a.getenv, a.stderr)
}

func (a *app) cacheDir() string {
	if a.flags.noCache {
		return ""
	}
	for _, d := range []string{a.flags.cacheDir, a.getenv("LIFEBOAT_CACHE_DIR")} {
		if d != "" {
			return d
		}
	}
	if a.cfg != nil && a.cfg.Repository.CacheDir != "" {
		return a.cfg.Repository.CacheDir
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "lifeboat")
	}
	return ""
}

// identity gathers the identities the user provided: an identity file
// and/or a passphrase.
func (a *app) identity(allowPrompt bool) (*crypto.Identity, error) {
	var ids []*crypto.Identity
	path := a.flags.identity
	if path == "" {
		path = a.getenv("LIFEBOAT_IDENTITY")
	}
	if path == "" && a.cfg != nil {
		path = a.cfg.Repository.Identity
	}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, usageErr("identity: %v", err)
		}
		id, err := crypto.ParseIdentitiesWithPassphrase(data, func() ([]byte, error) {
			return a.prompt("passphrase for " + path + ": ")
		})
		if err != nil {
			if errors.Is(err, crypto.ErrWrongKey) {
				return nil, withCode(ExitWrongKey, fmt.Errorf("identity %s: %w", path, err))
			}
			return nil, usageErr("identity %s: %v", path, err)
		}
		ids = append(ids, id)
	}
	pass, err := a.passphrase(len(ids) == 0 && allowPrompt, false)
	if err != nil {
		return nil, err
	}
	if pass != nil {
		ids = append(ids, crypto.PassphraseIdentity(pass))
	}
	if len(ids) == 0 {
		return nil, usageErr("no identity or passphrase: use --identity FILE, LIFEBOAT_IDENTITY or LIFEBOAT_PASSPHRASE_FILE")
	}
	return crypto.JoinIdentities(ids...), nil
}

// passphrase returns the passphrase from LIFEBOAT_PASSPHRASE_FILE, the
// config, LIFEBOAT_PASSPHRASE, or (when prompt) the terminal; nil when none.
func (a *app) passphrase(prompt, confirm bool) ([]byte, error) {
	file := a.getenv("LIFEBOAT_PASSPHRASE_FILE")
	if file == "" && a.cfg != nil {
		file = a.cfg.Repository.PassphraseFile
	}
	if file != "" {
		return readPassphraseFile(file)
	}
	if p := a.getenv("LIFEBOAT_PASSPHRASE"); p != "" {
		return []byte(p), nil
	}
	if !prompt {
		return nil, nil
	}
	p, err := a.prompt("repository passphrase: ")
	if err != nil {
		return nil, err
	}
	if confirm {
		q, err := a.prompt("repeat passphrase: ")
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(p, q) {
			return nil, usageErr("passphrases do not match")
		}
	}
	if len(p) == 0 {
		return nil, usageErr("empty passphrase")
	}
	return p, nil
}

// prompt reads a secret from the terminal without echo.
func (a *app) prompt(msg string) ([]byte, error) {
	f, ok := a.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, usageErr("a passphrase is needed but standard input is not a terminal (set LIFEBOAT_PASSPHRASE_FILE)")
	}
	fmt.Fprint(a.stderr, msg)
	p, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(a.stderr)
	if err != nil {
		return nil, fmt.Errorf("read passphrase: %w", err)
	}
	return p, nil
}

// openRepoOnly opens the configured repository without loading its index.
func (a *app) openRepoOnly(ctx context.Context) (*repo.Repository, error) {
	st, err := a.openStorage(ctx, false)
	if err != nil {
		return nil, err
	}
	id, err := a.identity(true)
	if err != nil {
		return nil, err
	}
	return repo.Open(ctx, st, id, a.repoOptions())
}

// repoOptions are the options for opening the repository: the cache (with
// the small index objects; check opens with its own options, reading every
// index object from the storage), and
// for a repository in one local region, temporary pack files in that
// region's directory, so that the region stores each pack by linking its
// file into place rather than copying it (packs are written once, not
// twice). With several regions each gets a copy.
func (a *app) repoOptions() repo.Options {
	o := repo.Options{CacheDir: a.cacheDir(), StateDir: a.hostStateDir(), CacheIndex: true}
	if a.cfg != nil && len(a.cfg.Regions) == 1 && a.cfg.Regions[0].Type == config.TypeLocal {
		o.TempDir = a.cfg.Regions[0].Path
	}
	return o
}

// openRepo opens the configured repository and loads its index.
func (a *app) openRepo(ctx context.Context) (*repo.Repository, error) {
	r, err := a.openRepoOnly(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.LoadIndex(ctx); err != nil {
		return nil, fmt.Errorf("load index: %w", err)
	}
	return r, nil
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}

func username() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	return enc.Encode(v)
}

func (a *app) printf(format string, args ...any) {
	if !a.flags.quiet {
		fmt.Fprintf(a.stdout, format, args...)
	}
}

// readPassphraseFile returns the first line of a passphrase file.
func readPassphraseFile(file string) ([]byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, usageErr("passphrase file: %v", err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return nil, usageErr("passphrase file %s is empty", file)
	}
	return []byte(line), nil
}
