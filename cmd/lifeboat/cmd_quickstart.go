package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/engine/treecmp"
)

func (a *app) quickstartCommand() *cobra.Command {
	var dir string
	var sizeMiB int
	cmd := &cobra.Command{
		Use:   "quickstart",
		Short: "Demonstrate Lifeboat end to end in a scratch directory",
		Long: `Run the whole main job on local regions, with no servers: generate an age
identity, write a configuration with two local regions, init the repository,
generate a sample tree, back it up, restore it, compare the restore with the
source (content, modes, mtimes, symlinks), and read back all data with check.
Everything is created under --dir.`,
		Args:              cobra.NoArgs,
		PersistentPreRunE: func(*cobra.Command, []string) error { return nil },
		RunE: func(cmd *cobra.Command, _ []string) error {
			abs, err := filepath.Abs(dir)
			if err != nil {
				return usageErr("%v", err)
			}
			if _, err := os.Stat(abs); err == nil {
				return usageErr("%s already exists; remove it or pick another --dir", abs)
			}
			return a.quickstart(cmd, abs, sizeMiB)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "lifeboat-quickstart", "scratch `DIR` to create")
	cmd.Flags().IntVar(&sizeMiB, "size", 64, "approximate size of the sample tree in MiB")
	return cmd
}

func (a *app) quickstart(cmd *cobra.Command, dir string, sizeMiB int) error {
	step := func(format string, args ...any) { fmt.Fprintf(a.stdout, "==> "+format+"\n", args...) }
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	identity := filepath.Join(dir, "identity.txt")
	cfgPath := filepath.Join(dir, "lifeboat.yaml")
	sample := filepath.Join(dir, "sample")
	target := filepath.Join(dir, "restore")
	cfg := fmt.Sprintf(`# Written by lifeboat quickstart.
version: 1
repository:
  identity: %s
  cache_dir: %s
regions:
  - name: primary
    type: local
    path: %s
  - name: secondary
    type: local
    path: %s
`, identity, filepath.Join(dir, "cache"), filepath.Join(dir, "regions", "primary"), filepath.Join(dir, "regions", "secondary"))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	step("generating sample data (%d MiB) in %s", sizeMiB, sample)
	if err := makeSample(sample, sizeMiB); err != nil {
		return fmt.Errorf("sample data: %w", err)
	}
	sub := func(args ...string) error {
		all := append([]string{"--config", cfgPath}, args...)
		if code := run(all, a.stdin, a.stdout, a.stderr); code != 0 {
			return withCode(code, fmt.Errorf("lifeboat %s failed (exit %d)", strings.Join(args, " "), code))
		}
		return nil
	}
	step("lifeboat key generate --output %s", identity)
	if code := run([]string{"key", "generate", "--output", identity}, a.stdin, a.stdout, a.stderr); code != 0 {
		return withCode(code, fmt.Errorf("key generate failed"))
	}
	for _, args := range [][]string{
		{"init"},
		{"backup", sample},
		{"backup", sample},
		{"snapshots"},
		{"restore", "latest", "--target", target},
		{"check", "--read-data"},
	} {
		step("lifeboat --config %s %s", cfgPath, strings.Join(args, " "))
		if err := sub(args...); err != nil {
			return err
		}
	}
	step("comparing %s with the restored copy", sample)
	restored := filepath.Join(target, sample)
	diffs, err := treecmp.Compare(sample, restored, treecmp.Options{Limit: 20})
	if err != nil {
		return err
	}
	if len(diffs) > 0 {
		for _, d := range diffs {
			fmt.Fprintf(a.stderr, "difference: %s\n", d)
		}
		return withCode(ExitIntegrity, fmt.Errorf("the restored tree differs from the source"))
	}
	step("success: the restore is identical (content, modes, mtimes, symlinks)")
	fmt.Fprintf(a.stdout, "try: lifeboat --config %s ls -l latest\n", cfgPath)
	return nil
}

// makeSample writes a deterministic tree: text, duplicates, incompressible
// data, an empty file, odd names, symlinks and nested directories.
func makeSample(root string, sizeMiB int) error {
	rng := rand.New(rand.NewPCG(1, 2))
	mtime := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	words := strings.Fields("lifeboat region backup restore drill snapshot chunk pack index tree age zstd quorum failover verify")
	write := func(rel string, data []byte, mode fs.FileMode) error {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, mode); err != nil {
			return err
		}
		if err := os.Chmod(p, mode); err != nil {
			return err
		}
		return os.Chtimes(p, mtime, mtime)
	}
	budget := int64(sizeMiB) << 20
	for i := 0; budget > 0; i++ {
		var b bytes.Buffer
		n := 1 << (10 + rng.IntN(10)) // 1 KiB .. 512 KiB
		if i%10 == 0 {
			n = 4 << 20
		}
		if i%3 == 0 {
			buf := make([]byte, n)
			for j := range buf {
				buf[j] = byte(rng.Uint32())
			}
			b.Write(buf)
		} else {
			for b.Len() < n {
				fmt.Fprintf(&b, "%d %s %s\n", rng.IntN(1e6), words[rng.IntN(len(words))], words[rng.IntN(len(words))])
			}
		}
		rel := filepath.Join(fmt.Sprintf("dir%02d", i%7), fmt.Sprintf("sub%d", i%3), fmt.Sprintf("file%04d.dat", i))
		if err := write(rel, b.Bytes(), 0o644); err != nil {
			return err
		}
		if i%5 == 0 {
			if err := write(filepath.Join("copies", fmt.Sprintf("copy%04d.dat", i)), b.Bytes(), 0o600); err != nil {
				return err
			}
		}
		budget -= int64(b.Len())
	}
	for rel, mode := range map[string]fs.FileMode{"empty": 0o644, "with space.txt": 0o640, "ünïcödé.txt": 0o600, "script.sh": 0o755} {
		if err := write(filepath.Join("special", rel), []byte(rel+"\n"), mode); err != nil {
			return err
		}
	}
	for link, target := range map[string]string{"special/link-rel": "with space.txt", "special/link-dir": "../dir00", "special/link-dangling": "does-not-exist"} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "empty-dir"), 0o750); err != nil {
		return err
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		return os.Chtimes(p, mtime, mtime)
	})
}
