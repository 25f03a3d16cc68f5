// Command scalegen writes the many-small-files tree of bench/scale.sh and
// changes it deterministically (stdlib only; its own module, outside
// Lifeboat's).
//
//	scalegen gen -count N [-seed S] DIR      N files in DIR (must not exist)
//	scalegen mutate [-percent P] [-seed S] DIR
//
// gen: file i is DIR/dAAA/eBB/fIIIIIII (100 files per leaf directory, 100
// leaf directories per top one); sizes 16 B..4 KiB (half below 256 B, 40 %
// below 1 KiB, 10 % up to 4 KiB; about 570 B on average), text-like
// content that starts with the file's number, so every file is a distinct
// blob for both engines. Every file and directory gets the same fixed
// mtime. Same N and seed: the same tree.
//
// mutate: rewrites P percent (default 1) of the files, chosen by the seed
// (default 2), with new content of the same size class, and gives them,
// and then every directory again, fixed mtimes.
package main

import (
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"time"
)

var (
	genTime    = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	mutateTime = time.Date(2024, 6, 7, 8, 9, 10, 0, time.UTC)
)

var words = []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
	"juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
	"uniform", "victor", "whiskey", "xray", "yankee", "zulu", "config", "value", "true", "false", "null",
	"id", "name", "path", "size", "count", "=", ":", "{", "}", "\n", "\n", "\n"}

func die(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "scalegen:", err)
		os.Exit(1)
	}
}

// size draws a file size.
func size(r *rand.Rand) int {
	switch p := r.IntN(10); {
	case p < 5:
		return 16 + r.IntN(240)
	case p < 9:
		return 256 + r.IntN(768)
	default:
		return 1024 + r.IntN(3072)
	}
}

// content returns n bytes for file i, version v.
func content(r *rand.Rand, i, v, n int) []byte {
	b := fmt.Appendf(make([]byte, 0, n+16), "file %d version %d\n", i, v)
	for len(b) < n {
		b = append(b, words[r.IntN(len(words))]...)
		b = append(b, ' ')
	}
	return b[:max(n, 0)]
}

func rel(i int) string {
	return filepath.Join(fmt.Sprintf("d%03d", i/10000), fmt.Sprintf("e%02d", i/100%100), fmt.Sprintf("f%07d", i))
}

func setDirTimes(root string, t time.Time) {
	var dirs []string
	die(filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return err
	}))
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	for _, d := range dirs {
		die(os.Chtimes(d, t, t))
	}
}

func gen(args []string) {
	fset := flag.NewFlagSet("gen", flag.ExitOnError)
	count := fset.Int("count", 1000000, "number of files")
	seed := fset.Uint64("seed", 1, "seed")
	die(fset.Parse(args))
	if fset.NArg() != 1 || *count < 1 {
		die(fmt.Errorf("usage: scalegen gen -count N [-seed S] DIR"))
	}
	root := fset.Arg(0)
	if _, err := os.Lstat(root); err == nil {
		die(fmt.Errorf("%s exists", root))
	}
	r := rand.New(rand.NewPCG(*seed, 0x7363616c65))
	var total int64
	for i := range *count {
		p := filepath.Join(root, rel(i))
		if i%100 == 0 {
			die(os.MkdirAll(filepath.Dir(p), 0o755))
		}
		data := content(r, i, 0, size(r))
		die(os.WriteFile(p, data, 0o644))
		die(os.Chtimes(p, genTime, genTime))
		total += int64(len(data))
	}
	setDirTimes(root, genTime)
	fmt.Printf("files: %d  bytes: %d  dirs: %d\n", *count, total, (*count+99)/100+(*count+9999)/10000+1)
}

func mutate(args []string) {
	fset := flag.NewFlagSet("mutate", flag.ExitOnError)
	percent := fset.Float64("percent", 1, "share of the files to rewrite")
	seed := fset.Uint64("seed", 2, "seed")
	die(fset.Parse(args))
	if fset.NArg() != 1 {
		die(fmt.Errorf("usage: scalegen mutate [-percent P] [-seed S] DIR"))
	}
	root := fset.Arg(0)
	var files []string
	die(filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, p)
		}
		return err
	}))
	sort.Strings(files)
	r := rand.New(rand.NewPCG(*seed, 0x6d757461))
	changed, bytes := 0, 0
	for i, p := range files {
		if r.Float64()*100 >= *percent {
			continue
		}
		data := content(r, i, int(*seed), size(r))
		die(os.WriteFile(p, data, 0o644))
		die(os.Chtimes(p, mutateTime, mutateTime))
		changed++
		bytes += len(data)
	}
	setDirTimes(root, genTime)
	fmt.Printf("changed files: %d of %d (%d bytes)\n", changed, len(files), bytes)
}

func main() {
	if len(os.Args) < 2 {
		die(fmt.Errorf("usage: scalegen gen|mutate ..."))
	}
	switch os.Args[1] {
	case "gen":
		gen(os.Args[2:])
	case "mutate":
		mutate(os.Args[2:])
	default:
		die(fmt.Errorf("unknown command %q (gen, mutate)", os.Args[1]))
	}
}
