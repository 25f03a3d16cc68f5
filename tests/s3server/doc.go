// Package s3server starts throwaway versitygw S3 servers for tests: one
// process per call on a free 127.0.0.1 port, with its data under
// t.TempDir(), a bucket ready to use, and cleanup registered on t. Tests use
// Kill and Restart to simulate a region that dies and comes back, and
// DataDir to damage stored objects behind the server's back. WithIAM and
// CreateUser add accounts besides root (for credentials a bucket policy
// restricts), and WithAccessLog and Requests tell which requests the
// server answered, by whom and how. Servers run
// with versioning (--versioning-dir); the bucket is a plain directory (no
// lock configuration) unless WithObjectLock creates it through the S3 API
// with object lock enabled.
//
// The versitygw binary is located through LIFEBOAT_VERSITYGW,
// $LIFEBOAT_TOOLS, $(go env GOPATH)/bin and PATH, in that order; when none
// has it, scripts/install-versitygw.sh (found by walking up to go.mod)
// installs it. A binary that cannot be found or installed fails the test.
package s3server
