package s3server_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"lifeboat/tests/s3server"
)

func client(t *testing.T, srv *s3server.Server, ak, sk string) *minio.Client {
	t.Helper()
	c, err := minio.New(srv.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(ak, sk, ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// An account made with CreateUser signs requests, and the access log
// names it with each request and its answer.
func TestCreateUserAndAccessLog(t *testing.T) {
	srv := s3server.Start(t, s3server.WithIAM(), s3server.WithAccessLog())
	srv.CreateUser("someone", "someone-secret", "user")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	root := client(t, srv, srv.AccessKey, srv.SecretKey)
	if _, err := root.PutObject(ctx, srv.Bucket, "a/b", bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	// The bucket is root's: the new account may not read it.
	u := client(t, srv, "someone", "someone-secret")
	if _, err := u.StatObject(ctx, srv.Bucket, "a/b", minio.StatObjectOptions{}); minio.ToErrorResponse(err).Code != "AccessDenied" {
		t.Fatalf("stat by another account: %v, want AccessDenied", err)
	}
	if err := root.RemoveObject(ctx, srv.Bucket, "a/b", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	got := srv.Requests()
	want := []s3server.Request{
		{Requester: srv.AccessKey, Operation: "s3_PutObject", Key: "a/b", Status: 200},
		{Requester: "someone", Operation: "s3_HeadObject", Key: "a/b", Status: 403},
		{Requester: srv.AccessKey, Operation: "s3_DeleteObject", Key: "a/b", Status: 200},
	}
	if len(got) != len(want) {
		t.Fatalf("logged %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("request %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}
