package s3_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"lifeboat/storage"
	"lifeboat/tests/s3server"
)

// headerFilter is a transport that turns the server's 412 answers to
// conditional creates into success, as a server that ignores If-None-Match
// answers (the header is signed, so it cannot simply be dropped), or that
// refuses every PUT with 403.
type headerFilter struct {
	dropCondition bool
	refusePut     bool
}

func (h *headerFilter) RoundTrip(req *http.Request) (*http.Response, error) {
	if h.refusePut && req.Method == http.MethodPut {
		if req.Body != nil {
			req.Body.Close()
		}
		body := `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`
		return &http.Response{StatusCode: http.StatusForbidden, Status: "403 Forbidden", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {"application/xml"}}, Body: io.NopCloser(strings.NewReader(body)),
			ContentLength: int64(len(body)), Request: req}, nil
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil && h.dropCondition && req.Method == http.MethodPut && req.Header.Get("If-None-Match") != "" &&
		resp.StatusCode == http.StatusPreconditionFailed {
		resp.Body.Close()
		return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Etag": {`"0"`}}, Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
	}
	return resp, err
}

// TestProbeConditionalCreate checks that Capabilities reports what the
// server does with a second conditional create, not what the client asks
// for, and that the probe leaves no object behind.
func TestProbeConditionalCreate(t *testing.T) {
	srv := s3server.Start(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name            string
		tr              *headerFilter
		want, unverifed bool
	}{
		{"honoured", nil, true, false},
		{"ignored", &headerFilter{dropCondition: true}, false, false},
		{"read-only", &headerFilter{refusePut: true}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(srv, "probe-"+tc.name)
			if tc.tr != nil {
				cfg.Transport = tc.tr
			}
			s := open(t, cfg)
			c := s.Capabilities()
			if c.ConditionalCreate != tc.want || c.ConditionalCreateUnverified != tc.unverifed {
				t.Fatalf("ConditionalCreate = %v, unverified = %v; want %v, %v", c.ConditionalCreate, c.ConditionalCreateUnverified, tc.want, tc.unverifed)
			}
			var left []string
			if err := s.List(ctx, "", func(i storage.Info) error { left = append(left, i.Name); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(left) > 0 {
				t.Fatalf("probe left objects behind: %v", left)
			}
		})
	}
}
