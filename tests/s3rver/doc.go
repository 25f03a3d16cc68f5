// Package s3rver starts throwaway s3rver servers for tests: s3rver (MIT,
// version 3.7.1, on Node) is an S3 server that ignores If-None-Match, so a
// conditional create silently overwrites. Tests use it as the real server
// without working conditional creates. Each Start launches one process on a
// free 127.0.0.1 port with its data under t.TempDir(), one bucket ready,
// and cleanup registered on t.
//
// The server's s3rver.js is located through LIFEBOAT_S3RVER; when it is
// unset, scripts/install-s3rver.sh (found by walking up to go.mod) installs
// s3rver with npm into a cache directory. A missing node or npm, or a failed
// install, fails the test: it is never skipped.
package s3rver
