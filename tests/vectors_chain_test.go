package tests

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestChainRecordsIndependentReader verifies the commit records the CLI
// writes into a local repository with a reader written from FORMAT.md §19
// alone (and §2 for the key): the master secret comes from the passphrase
// key through the independent age reader, the chain key from HKDF, and
// every record's name, framing, MAC, field order, links, writer ID and
// what it commits are checked by hand.
func TestChainRecordsIndependentReader(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	const pass = "chain vectors"
	env := []string{"HOME=" + dir, "LIFEBOAT_PASSPHRASE=" + pass, "LIFEBOAT_STATE_DIR=" + filepath.Join(dir, "state"),
		"LIFEBOAT_CONFIG=", "LIFEBOAT_IDENTITY="}
	run := func(args ...string) string {
		t.Helper()
		code, out, errOut := lifeboat(t, env, append([]string{"--repo", repo, "--no-cache"}, args...)...)
		if code != 0 {
			t.Fatalf("lifeboat %v: exit %d\n%s%s", args, code, out, errOut)
		}
		return out
	}
	run("init", "--scrypt-log-n", "10", "--pack-size", "1MiB")
	for i := range 2 {
		if err := os.WriteFile(filepath.Join(src, fmt.Sprint("f", i)), []byte(fmt.Sprint("content ", i)), 0o644); err != nil {
			t.Fatal(err)
		}
		run("backup", src)
	}
	rcpt := strings.TrimSpace(run("key", "generate", "-o", filepath.Join(dir, "other.txt")))
	run("key", "add", "--recipient", rcpt)

	// §2: the master secret, from the passphrase key.
	var secret []byte
	var passKey string
	keys := map[string]bool{}
	ents, err := os.ReadDir(filepath.Join(repo, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		name := "keys/" + e.Name()
		keys[name] = true
		data, err := os.ReadFile(filepath.Join(repo, name))
		if err != nil {
			t.Fatal(err)
		}
		var k struct {
			Kind    string `json:"kind"`
			Wrapped []byte `json:"wrapped"`
		}
		if err := json.Unmarshal(data, &k); err != nil {
			t.Fatal(err)
		}
		if k.Kind != "passphrase" {
			continue
		}
		f, err := parseAge(k.Wrapped)
		if err != nil {
			t.Fatal(err)
		}
		fk, _, err := unwrapScryptStanza(f, []byte(pass))
		if err != nil {
			t.Fatal(err)
		}
		plain, err := openAgePayload(f, fk)
		if err != nil || len(plain) != 55 {
			t.Fatalf("master key plaintext %x, %v", plain, err)
		}
		secret, passKey = plain[23:], name
	}
	if secret == nil {
		t.Fatal("no passphrase key")
	}
	chainKey, err := hkdf.Key(sha256.New, secret, nil, "lifeboat/v1 derived: chain mac", 32)
	if err != nil {
		t.Fatal(err)
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	wm := hmac.New(sha256.New, chainKey)
	wm.Write([]byte("lifeboat chain writer\x00" + host + "\x00" + passKey))
	wantWriter := hex.EncodeToString(wm.Sum(nil))[:16]

	// §19: every record.
	nameRE := regexp.MustCompile(`^chain/([0-9a-f]{16})/([0-9]{20})$`)
	order := []string{"version", "writer", "seq", "prev", "time", "host", "op", "config", "snapshots", "index", "keys", "seen"}
	records := map[string][]byte{}
	err = filepath.WalkDir(filepath.Join(repo, "chain"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(repo, p)
		data, err := os.ReadFile(p)
		records[filepath.ToSlash(rel)] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	committed := map[string]bool{}
	configs := map[string]bool{}
	var ops []string
	for seq := 1; ; seq++ {
		name := fmt.Sprintf("chain/%s/%020d", wantWriter, seq)
		data, ok := records[name]
		if !ok {
			if len(records) != seq-1 {
				t.Fatalf("%d records, the chain of writer %s has %d (other writers or a gap): %v", len(records), wantWriter, seq-1, slices.Sorted(func(yield func(string) bool) {
					for n := range records {
						if !yield(n) {
							return
						}
					}
				}))
			}
			break
		}
		m := nameRE.FindStringSubmatch(name)
		if m == nil {
			t.Fatalf("name %s", name)
		}
		if len(data) < 66 || data[len(data)-1] != '\n' || data[len(data)-66] != '\n' {
			t.Fatalf("%s: framing", name)
		}
		body, macHex := data[:len(data)-66], string(data[len(data)-65:len(data)-1])
		h := hmac.New(sha256.New, chainKey)
		h.Write([]byte("lifeboat chain v1\x00" + name + "\x00"))
		h.Write(body)
		if macHex != hex.EncodeToString(h.Sum(nil)) {
			t.Fatalf("%s: MAC does not verify", name)
		}
		fields, err := topLevelKeys(body)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var rec struct {
			Version   int     `json:"version"`
			Writer    string  `json:"writer"`
			Seq       uint64  `json:"seq"`
			Prev      *string `json:"prev"`
			Op        string  `json:"op"`
			Host      string  `json:"host"`
			Config    *struct{ Hash string }
			Snapshots []string `json:"snapshots"`
			Index     []string `json:"index"`
			Keys      []string `json:"keys"`
		}
		if err := json.Unmarshal(body, &rec); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !isSubsequence(fields, order) || fields[0] != "version" {
			t.Fatalf("%s: fields %v not in the order %v", name, fields, order)
		}
		if rec.Version != 1 || rec.Writer != m[1] || strconv.FormatUint(rec.Seq, 10) != strings.TrimLeft(m[2], "0") || rec.Host != host {
			t.Fatalf("%s: body %s", name, body)
		}
		if seq == 1 {
			if rec.Prev != nil {
				t.Fatalf("%s: prev in the first record", name)
			}
		} else {
			sum := sha256.Sum256(records[fmt.Sprintf("chain/%s/%020d", wantWriter, seq-1)])
			if rec.Prev == nil || *rec.Prev != hex.EncodeToString(sum[:]) {
				t.Fatalf("%s: prev %v is not the SHA-256 of the record before", name, rec.Prev)
			}
		}
		ops = append(ops, rec.Op)
		for _, l := range []struct {
			prefix string
			ids    []string
		}{{"snapshots/", rec.Snapshots}, {"index/", rec.Index}, {"keys/", rec.Keys}} {
			if !slices.IsSorted(l.ids) {
				t.Fatalf("%s: %s IDs not sorted", name, l.prefix)
			}
			for _, id := range l.ids {
				committed[l.prefix+id] = true
			}
		}
		if rec.Config != nil {
			configs[rec.Config.Hash] = true
		}
	}
	if want := []string{"init", "backup", "backup", "key"}; !slices.Equal(ops, want) {
		t.Fatalf("ops %v, want %v", ops, want)
	}
	cfg, err := os.ReadFile(filepath.Join(repo, "config"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cfg)
	if !configs[hex.EncodeToString(sum[:])] {
		t.Fatalf("no record names the config %x", sum)
	}
	for _, prefix := range []string{"snapshots", "index", "keys"} {
		ents, err := os.ReadDir(filepath.Join(repo, prefix))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if !committed[prefix+"/"+e.Name()] {
				t.Errorf("%s/%s is named by no record", prefix, e.Name())
			}
		}
	}
}

// topLevelKeys returns the keys of the JSON object body, in order.
func topLevelKeys(body []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("key %v", tok)
		}
		keys = append(keys, k)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// isSubsequence reports whether a's elements appear in b in a's order.
func isSubsequence(a, b []string) bool {
	i := 0
	for _, x := range b {
		if i < len(a) && a[i] == x {
			i++
		}
	}
	return i == len(a)
}
