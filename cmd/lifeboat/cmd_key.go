package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/crypto"
	"lifeboat/engine/repo"
)

func (a *app) keyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Manage identities and the keys that open the repository",
	}
	cmd.AddCommand(a.keyGenerateCommand(), a.keyAddCommand(), a.keyListCommand(), a.keyRemoveCommand())
	asGroup(cmd)
	return cmd
}

func (a *app) keyGenerateCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Write a new age X25519 identity file and print its recipient",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			id, rcpt, err := crypto.GenerateX25519()
			if err != nil {
				return err
			}
			data := fmt.Sprintf("# created: %s\n# public key: %s\n%s\n", time.Now().UTC().Format(time.RFC3339), rcpt, id)
			if output == "" || output == "-" {
				fmt.Fprint(a.stdout, data)
				return nil
			}
			// The folder is created private, as ~/.config/lifeboat is
			// usually not there yet.
			if err := os.MkdirAll(filepath.Dir(output), 0o700); err != nil {
				return fmt.Errorf("write identity: %w", err)
			}
			if err := writeSecretFile(output, []byte(data)); err != nil {
				return fmt.Errorf("write identity: %w", err)
			}
			if a.flags.json {
				return a.printJSON(map[string]string{"identity_file": output, "recipient": rcpt})
			}
			fmt.Fprintln(a.stdout, rcpt)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write the identity to `FILE` (created with mode 0600, its missing folders 0700; never overwritten)")
	return cmd
}

func (a *app) keyAddCommand() *cobra.Command {
	var recipient, label string
	var passphrase bool
	var logN int
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Wrap the repository key to another recipient or passphrase (no data is rewritten)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (recipient == "") == !passphrase {
				return usageErr("give exactly one of --recipient or --new-passphrase")
			}
			var rc *crypto.Recipient
			var err error
			if recipient != "" {
				if rc, err = crypto.ParseRecipient(recipient); err != nil {
					return usageErr("recipient: %v", err)
				}
			}
			r, err := a.openRepo(cmd.Context())
			if err != nil {
				return err
			}
			if passphrase {
				pass, err := a.newPassphrase()
				if err != nil {
					return err
				}
				if logN == 0 {
					logN = defaultScryptLogN
				}
				if rc, err = crypto.PassphraseRecipient(pass, logN); err != nil {
					return err
				}
			}
			id, err := r.AddKey(cmd.Context(), rc, label, hostname(), username())
			if err != nil {
				return err
			}
			if a.flags.json {
				return a.printJSON(map[string]string{"key": id.String(), "kind": rc.Kind()})
			}
			a.printf("added key %s (%s)\n", id.Short(), rc.Kind())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&recipient, "recipient", "", "age `RECIPIENT` (age1…) or SSH public key line")
	f.BoolVar(&passphrase, "new-passphrase", false, "add a passphrase key (LIFEBOAT_NEW_PASSPHRASE_FILE or a prompt)")
	f.IntVar(&logN, "scrypt-log-n", 0, "scrypt work factor for a passphrase key, 10-22 (default 15)")
	f.StringVar(&label, "label", "", "a label for the key")
	return cmd
}

// newPassphrase reads the passphrase for a new key.
func (a *app) newPassphrase() ([]byte, error) {
	if file := a.getenv("LIFEBOAT_NEW_PASSPHRASE_FILE"); file != "" {
		return readPassphraseFile(file)
	}
	p, err := a.prompt("new passphrase: ")
	if err != nil {
		return nil, err
	}
	q, err := a.prompt("repeat new passphrase: ")
	if err != nil {
		return nil, err
	}
	if string(p) != string(q) || len(p) == 0 {
		return nil, usageErr("passphrases are empty or do not match")
	}
	return p, nil
}

func (a *app) keyListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the keys that open the repository",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := a.openRepo(cmd.Context())
			if err != nil {
				return err
			}
			keys, err := r.Keys(cmd.Context())
			if err != nil {
				return err
			}
			if a.flags.json {
				type row struct {
					ID        string    `json:"id"`
					Current   bool      `json:"current"`
					Kind      string    `json:"kind"`
					Recipient string    `json:"recipient"`
					Label     string    `json:"label,omitempty"`
					Host      string    `json:"host,omitempty"`
					Created   time.Time `json:"created"`
				}
				rows := []row{}
				for _, k := range keys {
					rows = append(rows, row{k.ID.String(), k.Current, k.Key.Kind, k.Key.Recipient, k.Key.Label, k.Key.Host, k.Key.Created})
				}
				return a.printJSON(rows)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, " \tID\tKIND\tRECIPIENT\tLABEL\tHOST\tCREATED")
			for _, k := range keys {
				cur := " "
				if k.Current {
					cur = "*"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cur, k.ID.Short(), k.Key.Kind, short(k.Key.Recipient, 40), k.Key.Label, k.Key.Host, k.Key.Created.Local().Format("2006-01-02 15:04:05"))
			}
			return tw.Flush()
		},
	}
}

func short(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func (a *app) keyRemoveCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "remove ID",
		Short: "Remove a key (the last key cannot be removed; the one in use only with --force)",
		Long: `Remove the key whose ID starts with ID. The last key cannot be removed. The key
the current identity or passphrase opened the repository with is refused
unless --force: removing it locks this identity out (the next command exits
12) unless another key matches it. From format version 4 on, a tombstone of
the key is written to every region first: a region that was down cannot bring
the key back, and its copy there no longer opens the repository. In older
repositories the key object is only deleted (a warning says so).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.needConfig()
			if err != nil {
				return err
			}
			if err := refuseAppendOnly(cfg, "lifeboat key remove"); err != nil {
				return err
			}
			r, err := a.openRepo(cmd.Context())
			if err != nil {
				return err
			}
			if !force {
				if err := refuseCurrentKey(cmd.Context(), r, args[0]); err != nil {
					return err
				}
			}
			kr, err := r.RemoveKey(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			a.printf("removed key %s\n", kr.ID.Short())
			for _, p := range kr.Pending {
				a.printf("not deleted yet (a region did not answer; its tombstone already keeps it from opening the repository, and lifeboat sync deletes it there): %s\n", p)
			}
			if !kr.Tombstoned {
				fmt.Fprintf(a.stderr, "lifeboat: warning: format version %d records no tombstones: a region that was down keeps the key, and lifeboat sync copies it back; run lifeboat migrate, then remove it again if so\n", r.FormatVersion())
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "also remove the key the current identity opened the repository with")
	return cmd
}

// refuseCurrentKey fails when prefix names exactly the key r was opened
// with and it is not the last one (RemoveKey refuses that, and an
// ambiguous prefix, itself).
func refuseCurrentKey(ctx context.Context, r *repo.Repository, prefix string) error {
	keys, err := r.Keys(ctx)
	if err != nil {
		return err
	}
	var match []repo.KeyInfo
	for _, k := range keys {
		if prefix != "" && strings.HasPrefix(k.ID.String(), prefix) {
			match = append(match, k)
		}
	}
	if len(keys) > 1 && len(match) == 1 && match[0].Current {
		return fmt.Errorf("key %s is the one this identity opened the repository with; removing it locks you out "+
			"(add another key first, or use --force if another identity or passphrase still opens the repository)", match[0].ID.Short())
	}
	return nil
}
