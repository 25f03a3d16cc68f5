package config

import (
	"errors"
	"io/fs"
	"testing"
)

func TestParseCredentials(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		ak, sk string
		ok     bool
	}{
		{"plain", "access_key_id=AK\nsecret_access_key=SK\n", "AK", "SK", true},
		{"spaces and comments", "# creds\n\n  access_key_id = AK \r\nsecret_access_key= S=K\n", "AK", "S=K", true},
		{"no trailing newline", "secret_access_key=SK\naccess_key_id=AK", "AK", "SK", true},
		{"missing secret", "access_key_id=AK\n", "", "", false},
		{"missing access", "secret_access_key=SK\n", "", "", false},
		{"unknown key", "access_key_id=AK\nsecret_access_key=SK\nregion=x\n", "", "", false},
		{"twice", "access_key_id=AK\naccess_key_id=AK2\nsecret_access_key=SK\n", "", "", false},
		{"no equals", "access_key_id AK\n", "", "", false},
		{"empty value", "access_key_id=\nsecret_access_key=SK\n", "", "", false},
		{"empty", "", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ak, sk, err := ParseCredentials([]byte(tt.in))
			if (err == nil) != tt.ok || ak != tt.ak || sk != tt.sk {
				t.Fatalf("got %q, %q, %v; want %q, %q, ok=%v", ak, sk, err, tt.ak, tt.sk, tt.ok)
			}
		})
	}
}

func TestS3Credentials(t *testing.T) {
	env := map[string]string{"K": "envAK", "S": "envSK"}
	getenv := func(k string) string { return env[k] }
	files := map[string]string{"/c": "access_key_id=fileAK\nsecret_access_key=fileSK\n", "/bad": "oops\n"}
	readFile := func(p string) ([]byte, error) {
		if s, ok := files[p]; ok {
			return []byte(s), nil
		}
		return nil, fs.ErrNotExist
	}
	tests := []struct {
		name   string
		s3     S3
		ak, sk string
		ok     bool
	}{
		{"env", S3{AccessKeyEnv: "K", SecretKeyEnv: "S"}, "envAK", "envSK", true},
		{"env unset", S3{AccessKeyEnv: "K", SecretKeyEnv: "NOPE"}, "", "", false},
		{"file", S3{CredentialsFile: "/c"}, "fileAK", "fileSK", true},
		{"bad file", S3{CredentialsFile: "/bad"}, "", "", false},
		{"missing file", S3{CredentialsFile: "/absent"}, "", "", false},
		{"inline", S3{AccessKey: "a", SecretKey: "b"}, "a", "b", true},
		{"none", S3{}, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ak, sk, err := tt.s3.Credentials(getenv, readFile)
			if (err == nil) != tt.ok || ak != tt.ak || sk != tt.sk {
				t.Fatalf("got %q, %q, %v; want %q, %q, ok=%v", ak, sk, err, tt.ak, tt.sk, tt.ok)
			}
		})
	}
	_, _, err := (&S3{CredentialsFile: "/absent"}).Credentials(getenv, readFile)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file error %v does not wrap fs.ErrNotExist", err)
	}
}
