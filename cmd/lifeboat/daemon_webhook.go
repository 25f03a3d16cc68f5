package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"lifeboat/cmd/lifeboat/internal/config"
	"lifeboat/scheduler"
)

// Webhook delivery bounds.
const (
	webhookTimeout    = 10 * time.Second // per attempt
	webhookBackoff    = time.Second      // before the first retry, doubling
	webhookMaxBackoff = 30 * time.Second
)

// webhookEvent is the JSON body POSTed to the webhook.
type webhookEvent struct {
	// Event is "job.succeeded", "job.failed" or "job.interrupted".
	Event     string    `json:"event"`
	Job       string    `json:"job"`
	Kind      string    `json:"kind"`
	Host      string    `json:"host"`
	Version   string    `json:"version"`
	Result    string    `json:"result"`
	Error     string    `json:"error,omitempty"`
	Scheduled time.Time `json:"scheduled"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Duration  float64   `json:"duration_seconds"`
	CatchUp   bool      `json:"catch_up,omitempty"`
	// Forget is the forget after a backup of a source with keep: (backup
	// runs that ran one only).
	Forget *forgetStatus `json:"forget,omitempty"`
	// Prune is the outcome of a prune job's run (prune runs only).
	Prune *pruneStatus `json:"prune,omitempty"`
}

// notifier delivers webhook events in the background, with bounded
// retries and exponential backoff.
type notifier struct {
	url       string
	onSuccess bool
	retries   int
	client    *http.Client
	log       *slog.Logger
	backoff   time.Duration

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newNotifier(w *config.Webhook, log *slog.Logger) *notifier {
	ctx, cancel := context.WithCancel(context.Background())
	return &notifier{
		url: w.URL, onSuccess: w.OnSuccess, retries: w.Retries, log: log,
		client:  &http.Client{Timeout: webhookTimeout},
		backoff: webhookBackoff,
		ctx:     ctx, cancel: cancel,
	}
}

// runEnded sends the event of a finished run, if it is one to report:
// failures and interruptions always, successes when configured; skipped
// runs never.
func (n *notifier) runEnded(kind string, ri scheduler.RunInfo) { n.runEndedJob(kind, ri, nil, nil) }

// runEndedJob is runEnded for a run that ran forget f or prune p (nil:
// none).
func (n *notifier) runEndedJob(kind string, ri scheduler.RunInfo, f *forgetStatus, p *pruneStatus) {
	ev := webhookEvent{Job: ri.Job, Kind: kind, Host: hostname(), Version: version, Result: ri.Result,
		Scheduled: ri.Scheduled, Start: ri.Start, End: ri.End, Duration: ri.End.Sub(ri.Start).Seconds(), CatchUp: ri.CatchUp,
		Forget: f, Prune: p}
	switch ri.Result {
	case scheduler.ResultSuccess:
		if !n.onSuccess {
			return
		}
		ev.Event = "job.succeeded"
	case scheduler.ResultFailure:
		ev.Event = "job.failed"
	case scheduler.ResultInterrupted:
		ev.Event = "job.interrupted"
	default:
		return
	}
	if ri.Err != nil {
		ev.Error = ri.Err.Error()
	}
	n.send(ev)
}

// send delivers ev in the background.
func (n *notifier) send(ev webhookEvent) {
	body, err := json.Marshal(ev)
	if err != nil {
		n.log.Error("webhook: cannot encode the event", "err", err)
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.deliver(n.ctx, body); err != nil {
			n.log.Error("webhook: notification not delivered", "job", ev.Job, "event", ev.Event, "err", err)
		}
	}()
}

// deliver POSTs body, retrying transport errors, 429 and 5xx answers up to
// n.retries times.
func (n *notifier) deliver(ctx context.Context, body []byte) error {
	wait := n.backoff
	var last error
	for attempt := 0; attempt <= n.retries; attempt++ {
		if attempt > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return fmt.Errorf("%w (last error: %w)", ctx.Err(), last)
			}
			wait = min(2*wait, webhookMaxBackoff)
		}
		retry, err := n.post(ctx, body)
		if err == nil {
			return nil
		}
		last = err
		if !retry {
			return err
		}
	}
	return fmt.Errorf("after %d attempts: %w", n.retries+1, last)
}

// post makes one attempt; retry reports whether a failure is worth
// retrying.
func (n *notifier) post(ctx context.Context, body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "lifeboat/"+version)
	resp, err := n.client.Do(req)
	if err != nil {
		return ctx.Err() == nil, fmt.Errorf("webhook: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return true, fmt.Errorf("webhook: %s", resp.Status)
	}
	return false, fmt.Errorf("webhook: %s", resp.Status)
}

// close waits up to d for pending deliveries, then abandons them.
func (n *notifier) close(d time.Duration) {
	done := make(chan struct{})
	go func() {
		n.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
		n.cancel()
		<-done
	}
	n.cancel()
}
