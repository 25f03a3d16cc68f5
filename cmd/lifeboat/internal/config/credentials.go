package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Keys of a credentials file.
const (
	credAccessKeyID     = "access_key_id"
	credSecretAccessKey = "secret_access_key"
)

// Credentials returns the access key id and secret key of the region from
// whichever source it names: the environment variables (looked up with
// getenv), the credentials file (read with readFile) or the inline keys.
// It returns two empty strings and no error when the region names no
// credentials. getenv and readFile are typically os.Getenv and os.ReadFile.
func (s *S3) Credentials(getenv func(string) string, readFile func(string) ([]byte, error)) (accessKey, secretKey string, err error) {
	switch {
	case s.AccessKeyEnv != "" || s.SecretKeyEnv != "":
		accessKey, secretKey = getenv(s.AccessKeyEnv), getenv(s.SecretKeyEnv)
		if accessKey == "" {
			return "", "", fmt.Errorf("environment variable %s (access_key_env) is not set", s.AccessKeyEnv)
		}
		if secretKey == "" {
			return "", "", fmt.Errorf("environment variable %s (secret_key_env) is not set", s.SecretKeyEnv)
		}
		return accessKey, secretKey, nil
	case s.CredentialsFile != "":
		data, err := readFile(s.CredentialsFile)
		if err != nil {
			return "", "", fmt.Errorf("read credentials file: %w", err)
		}
		accessKey, secretKey, err = ParseCredentials(data)
		if err != nil {
			return "", "", fmt.Errorf("credentials file %s: %w", s.CredentialsFile, err)
		}
		return accessKey, secretKey, nil
	default:
		return s.AccessKey, s.SecretKey, nil
	}
}

// ParseCredentials parses a credentials file: lines "access_key_id=..." and
// "secret_access_key=..." (both required, each once). Blank lines and lines
// starting with "#" are ignored; spaces around keys and values are trimmed.
// Errors name the line but never include a secret.
func ParseCredentials(data []byte) (accessKey, secretKey string, err error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	seen := map[string]bool{}
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !ok {
			return "", "", fmt.Errorf("line %d: want key=value", n)
		}
		if key != credAccessKeyID && key != credSecretAccessKey {
			return "", "", fmt.Errorf("line %d: unknown key %q (want %s or %s)", n, key, credAccessKeyID, credSecretAccessKey)
		}
		if seen[key] {
			return "", "", fmt.Errorf("line %d: %s given twice", n, key)
		}
		seen[key] = true
		if val == "" {
			return "", "", fmt.Errorf("line %d: empty %s", n, key)
		}
		if key == credAccessKeyID {
			accessKey = val
		} else {
			secretKey = val
		}
	}
	if err := sc.Err(); err != nil {
		return "", "", fmt.Errorf("read credentials: %w", err)
	}
	if accessKey == "" {
		return "", "", errors.New(credAccessKeyID + " missing")
	}
	if secretKey == "" {
		return "", "", errors.New(credSecretAccessKey + " missing")
	}
	return accessKey, secretKey, nil
}
