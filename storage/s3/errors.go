package s3

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"

	"lifeboat/storage"
)

// errStalled is the cause of a request cancelled by its watchdog.
var errStalled = errors.New("s3 server made no progress")

// watchdog cancels a request's context when the request makes no progress
// for a while. It starts armed; arm and disarm bracket the waits that count,
// and its Read method (minio-go's upload progress hook) restarts the clock
// whenever request body bytes go out.
type watchdog struct {
	d      time.Duration
	timer  *time.Timer
	fired  atomic.Bool
	cancel context.CancelCauseFunc
}

// watch derives a context from ctx that an armed watchdog cancels after
// s.timeout without progress.
func (s *store) watch(ctx context.Context) (context.Context, *watchdog) {
	wctx, cancel := context.WithCancelCause(ctx)
	w := &watchdog{d: s.timeout, cancel: cancel}
	w.timer = time.AfterFunc(s.timeout, func() {
		w.fired.Store(true)
		cancel(errStalled)
	})
	return wctx, w
}

// arm (re)starts the clock.
func (w *watchdog) arm() { w.timer.Reset(w.d) }

// disarm stops the clock.
func (w *watchdog) disarm() { w.timer.Stop() }

// Read records upload progress: minio-go passes it the bytes it has just
// read from the request body. It must not modify p.
func (w *watchdog) Read(p []byte) (int, error) {
	w.timer.Reset(w.d)
	return len(p), nil
}

// stop ends the watch and releases the context.
func (w *watchdog) stop() {
	w.timer.Stop()
	w.cancel(context.Canceled)
}

// S3 error codes this package acts on, beyond those minio-go names.
var (
	notFoundCodes = map[string]bool{"NoSuchKey": true, "NotFound": true}
	permCodes     = map[string]bool{
		"AccessDenied": true, "InvalidAccessKeyId": true, "SignatureDoesNotMatch": true,
		"AllAccessDisabled": true, "AccountProblem": true, "ExpiredToken": true,
		"InvalidToken": true, "InvalidSecurity": true, "TokenRefreshRequired": true,
		"XAdminUserNotFound": true, // versitygw: unknown access key
	}
	noSpaceCodes   = map[string]bool{"XMinioStorageFull": true, "QuotaExceeded": true, "XMinioAdminBucketQuotaExceeded": true}
	transientCodes = map[string]bool{
		"SlowDown": true, "RequestTimeout": true, "InternalError": true,
		"ServiceUnavailable": true, "OperationAborted": true, "Throttling": true,
		"ThrottlingException": true, "TooManyRequests": true, "RequestThrottled": true,
		"ConditionalRequestConflict": true, "IncompleteBody": true, "BadDigest": true,
		"XMinioServerNotInitialized": true, "XAmzContentSHA256Mismatch": true,
	}
)

// configErr is a sentinel that also reports storage.ErrConfig: a missing
// bucket or refused credentials are the configuration's fault, not an
// outage. Its message is the sentinel's alone.
type configErr struct{ sentinel error }

func (e configErr) Error() string   { return e.sentinel.Error() }
func (e configErr) Unwrap() []error { return []error{e.sentinel, storage.ErrConfig} }

// isInvalidRange reports an S3 "range not satisfiable" answer.
func isInvalidRange(err error) bool {
	var er minio.ErrorResponse
	return errors.As(err, &er) && (er.Code == "InvalidRange" || er.StatusCode == http.StatusRequestedRangeNotSatisfiable)
}

// classify translates a failed request's error into the storage sentinels,
// or marks it transient. ctx is the caller's context: when it is done, its
// error is what matters. w is the request's watchdog; conditional says the
// request carried If-None-Match: *.
func (s *store) classify(ctx context.Context, err error, w *watchdog, conditional bool) error {
	if cerr := ctx.Err(); cerr != nil {
		if errors.Is(err, cerr) {
			return err
		}
		return fmt.Errorf("%w (%w)", cerr, err)
	}
	if w != nil && w.fired.Load() {
		return storage.MarkTransient(fmt.Errorf("server made no progress for %v: %w", w.d, os.ErrDeadlineExceeded))
	}

	var er minio.ErrorResponse
	if errors.As(err, &er) {
		return classifyResponse(er, err, conditional)
	}
	if isTransientNet(err) {
		return storage.MarkTransient(err)
	}
	return err
}

// classifyResponse maps an error answer from the server.
func classifyResponse(er minio.ErrorResponse, err error, conditional bool) error {
	code, status := er.Code, er.StatusCode
	switch {
	case code == "NoSuchBucket":
		return fmt.Errorf("%w: %w", configErr{ErrNoBucket}, err)
	case notFoundCodes[code]:
		return fmt.Errorf("%w: %w", storage.ErrNotExist, err)
	case conditional && (code == "PreconditionFailed" || status == http.StatusPreconditionFailed):
		return fmt.Errorf("%w: %w", storage.ErrExist, err)
	case code == "InvalidRange" || status == http.StatusRequestedRangeNotSatisfiable:
		return fmt.Errorf("%w: %w", storage.ErrInvalidRange, err)
	case permCodes[code]:
		return fmt.Errorf("%w: %w", configErr{storage.ErrPermission}, err)
	case noSpaceCodes[code] || status == http.StatusInsufficientStorage:
		return fmt.Errorf("%w: %w", storage.ErrNoSpace, err)
	case transientCodes[code]:
		return storage.MarkTransient(err)
	case status == http.StatusNotFound && er.Key != "":
		return fmt.Errorf("%w: %w", storage.ErrNotExist, err)
	case status == http.StatusForbidden || status == http.StatusUnauthorized:
		return fmt.Errorf("%w: %w", configErr{storage.ErrPermission}, err)
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests:
		return storage.MarkTransient(err)
	case status >= 500 && status != http.StatusNotImplemented && status != http.StatusHTTPVersionNotSupported:
		return storage.MarkTransient(err)
	}
	return err
}

// isTransientNet reports a failure to reach or hear from the server:
// timeouts, refused, reset or dropped connections, truncated bodies. Errors
// that retrying cannot fix (bad certificates, bad addresses) are excluded.
func isTransientNet(err error) bool {
	var (
		certErr     *tls.CertificateVerificationError
		unknownAuth x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		invalidCert x509.CertificateInvalidError
		recordErr   tls.RecordHeaderError
		addrErr     *net.AddrError
	)
	switch {
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr),
		errors.As(err, &invalidCert), errors.As(err, &recordErr), errors.As(err, &addrErr):
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.IsTemporary || dnsErr.IsTimeout
	}
	for _, e := range []error{
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE,
		syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ENETDOWN,
		io.ErrUnexpectedEOF, os.ErrDeadlineExceeded,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return true
	}
	// Any other failure of the HTTP exchange itself (no response, or the
	// server closed the connection, including a bare EOF) is worth a retry.
	var urlErr *url.Error
	return errors.As(err, &urlErr)
}
