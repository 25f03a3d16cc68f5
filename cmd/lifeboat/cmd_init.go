package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"lifeboat/cmd/lifeboat/internal/config"
	"lifeboat/crypto"
	"lifeboat/engine/backup"
	"lifeboat/engine/chunker"
	"lifeboat/engine/compress"
	"lifeboat/engine/repo"
)

func (a *app) initCommand() *cobra.Command {
	var o struct {
		recipients    []string
		recipientFile string
		compression   string
		packSize      string
		chunkAvg      string
		scryptLogN    int
		label         string
	}
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a repository in every configured region",
		Long: `Create a repository in every configured region. The first key is wrapped to
--recipient (age1… or an SSH public key), to the recipient of --identity, or,
when neither is given, to a passphrase (LIFEBOAT_PASSPHRASE_FILE or a prompt).

Every region must be reachable, and its server must honour conditional
creates (If-None-Match), which tell two concurrent inits apart: a region whose
server ignores them is refused (exit 2) unless its configuration accepts the
risk with unsafe_no_conditional_create: true. A region with object_lock must
be a bucket with object lock and versioning enabled and no default retention
(exit 2 otherwise). An init that finds, or loses
the race to, an existing repository fails (exit 1) and leaves no key behind.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			rcpts, err := a.initRecipients(o.recipients, o.recipientFile, o.scryptLogN)
			if err != nil {
				return err
			}
			cfg, err := a.needConfig()
			if err != nil {
				return err
			}
			// An init that loses a race must undo its copies of a config
			// and key (deletes); an append-only host could not.
			if err := refuseAppendOnly(cfg, "lifeboat init"); err != nil {
				return err
			}
			level := cfg.Repository.Compression
			if o.compression != "" {
				level = o.compression
			}
			if level == "" {
				level = compress.LevelAuto.String()
			}
			lv, err := compress.ParseLevel(level)
			if err != nil {
				return usageErr("compression: %v", err)
			}
			packSize := int64(cfg.Repository.PackSize)
			if o.packSize != "" {
				s, err := config.ParseSize(o.packSize)
				if err != nil {
					return usageErr("--pack-size: %v", err)
				}
				if s < config.MinPackSize || s > config.MaxPackSize {
					return usageErr("--pack-size %s is out of range: give %s to %s", s, config.MinPackSize, config.MaxPackSize)
				}
				packSize = int64(s)
			}
			params := chunker.DefaultParams
			if o.chunkAvg != "" {
				avg, err := parseSize(o.chunkAvg)
				if err != nil {
					return usageErr("--chunk-avg: %v", err)
				}
				params = chunker.Params{Min: int(avg / 2), Avg: int(avg), Max: int(avg * 8)}
				if err := params.Validate(); err != nil {
					return usageErr("--chunk-avg: %v", err)
				}
			}
			st, err := a.openStorage(ctx, true)
			if err != nil {
				return err
			}
			defer st.Close()
			// Two concurrent inits are told apart by the conditional
			// create of the config: refuse regions where it does not work.
			if err := requireConditionalCreate(cfg, st); err != nil {
				return fmt.Errorf("init: %w", err)
			}
			// Never claim a protection the buckets do not give.
			if err := requireObjectLock(cfg, st); err != nil {
				return fmt.Errorf("init: %w", err)
			}
			r, err := repo.Init(ctx, st, repo.InitOptions{
				Recipient: rcpts[0], KeyLabel: o.label, Host: hostname(), Username: username(),
				Chunker: params, Compression: lv, PackSize: packSize,
			})
			if err != nil {
				if errors.Is(err, repo.ErrAlreadyInitialized) {
					return withCode(ExitError, err)
				}
				return err
			}
			for _, rc := range rcpts[1:] {
				if _, err := r.AddKey(ctx, rc, o.label, hostname(), username()); err != nil {
					return err
				}
			}
			if a.flags.json {
				return a.printJSON(map[string]any{"repository_id": r.Config().ID, "regions": regionNames(a.cfg), "keys": len(rcpts)})
			}
			a.printf("created repository %s in %d region(s): %s\n", r.Config().ID, len(a.cfg.Regions), strings.Join(regionNames(a.cfg), ", "))
			a.printf("keep your identity or passphrase safe: without it the data cannot be read\n")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.recipients, "recipient", nil, "wrap the key to this age or SSH `RECIPIENT` (repeatable)")
	f.StringVar(&o.recipientFile, "recipient-file", "", "read recipients from `FILE`, one per line")
	f.StringVar(&o.compression, "compression", "", "zstd level: fastest, default, better, best, or auto (default for small blobs, fastest for large ones) (default: auto)")
	f.StringVar(&o.packSize, "pack-size", "", "target pack size, e.g. 16MiB")
	f.StringVar(&o.chunkAvg, "chunk-avg", "", "average chunk size, a power of two (default 1MiB; min = avg/2, max = avg*8)")
	f.IntVar(&o.scryptLogN, "scrypt-log-n", 0, "scrypt work factor for a passphrase key, 10-22 (default 15)")
	f.StringVar(&o.label, "label", "", "a label for the key")
	return cmd
}

// defaultScryptLogN is the passphrase work factor for new keys: scrypt with
// N=2^15, r=8 (32 MiB of memory, like restic's calibrated default), about
// 0.1 s here. --scrypt-log-n raises it (age's own default is 18).
const defaultScryptLogN = 15

// initRecipients decides whom the first keys are wrapped to.
func (a *app) initRecipients(list []string, file string, logN int) ([]*crypto.Recipient, error) {
	if file != "" {
		lines, err := backup.ReadPatternFile(file) // non-empty, non-comment lines
		if err != nil {
			return nil, usageErr("--recipient-file: %v", err)
		}
		list = append(list, lines...)
	}
	var out []*crypto.Recipient
	for _, s := range list {
		r, err := crypto.ParseRecipient(s)
		if err != nil {
			return nil, usageErr("recipient: %v", err)
		}
		out = append(out, r)
	}
	if len(out) > 0 {
		return out, nil
	}
	idPath := a.flags.identity
	if idPath == "" {
		idPath = a.getenv("LIFEBOAT_IDENTITY")
	}
	if idPath == "" && a.cfg != nil {
		idPath = a.cfg.Repository.Identity
	}
	if idPath != "" {
		id, err := a.identity(false)
		if err != nil {
			return nil, err
		}
		rs := id.Recipients()
		if len(rs) == 0 {
			return nil, usageErr("identity %s has no usable public key", idPath)
		}
		return rs[:1], nil
	}
	pass, err := a.passphrase(true, true)
	if err != nil {
		return nil, err
	}
	if logN == 0 {
		logN = defaultScryptLogN
	}
	if logN < 10 || logN > 22 {
		return nil, usageErr("--scrypt-log-n must be 10 to 22")
	}
	r, err := crypto.PassphraseRecipient(pass, logN)
	if err != nil {
		return nil, err
	}
	return []*crypto.Recipient{r}, nil
}

func regionNames(cfg *config.Config) []string {
	names := make([]string, len(cfg.Regions))
	for i, r := range cfg.Regions {
		names[i] = r.Name
	}
	return names
}

func parseSize(s string) (int64, error) {
	v, err := config.ParseSize(s)
	return int64(v), err
}

// writeSecretFile creates path with mode 0600, refusing to replace a file.
func writeSecretFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
