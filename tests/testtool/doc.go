// Package testtool holds what the test-server helpers (s3server, s3rver)
// share: finding the repository root, running one of its install scripts,
// and picking a free loopback port.
package testtool
