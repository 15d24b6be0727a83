package fakepush

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/sapcpi-otel/sapcpireceiver/internal/push"
)

// ErrNoPartialSuccess is Activate's warning for an OTEL target that accepted the connection test but
// did not answer with partialSuccess: SAP lets the activation pass and warns that the endpoint may not
// be an OTLP receiver.
var ErrNoPartialSuccess = errors.New("the OTEL target's reply to the connection test has no partialSuccess")

// Activate runs the checks SAP's activation makes: for Splunk an OPTIONS request on the HEC endpoint,
// which must answer 200; for OTEL the connection test, a POST of {}.
func (p *Pusher) Activate(ctx context.Context) error {
	switch p.opts.Target {
	case TargetSplunk:
		status, _, err := p.do(ctx, http.MethodOptions, nil, false)
		if err != nil {
			return fmt.Errorf("fakepush: activation: OPTIONS %s: %w", p.target, err)
		}
		if status != http.StatusOK {
			return fmt.Errorf("fakepush: activation: OPTIONS %s answered %d, want 200 (is it a HEC endpoint?)", p.target, status)
		}
	case TargetOTEL:
		status, reply, err := p.do(ctx, http.MethodPost, []byte("{}"), false)
		if err != nil {
			return fmt.Errorf("fakepush: connection test: POST %s: %w", p.target, err)
		}
		if status/100 != 2 {
			return fmt.Errorf("fakepush: connection test: POST %s answered %d", p.target, status)
		}
		if !bytes.Contains(reply, []byte("partialSuccess")) {
			return ErrNoPartialSuccess
		}
	}
	return nil
}

// deliver sends one batch and records its fate.
func (p *Pusher) deliver(ctx context.Context, batch []event) error {
	body, err := p.encode(batch)
	if err != nil {
		return err
	}
	ok, err := p.send(ctx, body)
	p.mu.Lock()
	defer p.mu.Unlock()
	if ok {
		p.stats.Batches++
		p.stats.SentEvents += len(batch)
	} else {
		p.stats.DroppedBatches++
		p.stats.DroppedEvents += len(batch)
	}
	for _, ev := range batch {
		if ev.kind != push.KindRun {
			continue
		}
		if ok {
			p.pushed = append(p.pushed, ev.key)
		} else {
			p.notPushed = append(p.notPushed, ev.key)
		}
	}
	return err
}

// encode renders a batch as the target's request body, gzipped when CompressData is on.
func (p *Pusher) encode(batch []event) ([]byte, error) {
	body, err := p.body(batch)
	if err != nil {
		return nil, fmt.Errorf("fakepush: rendering a batch: %w", err)
	}
	if !p.opts.CompressData {
		return body, nil
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(body)
	_ = zw.Close()
	return buf.Bytes(), nil
}

// send POSTs a batch: a 2xx delivers it, a 5xx, a 429 or a transport error is retried with a doubling
// back-off up to MaxRetries times, and any other answer drops it, as SAP does with a 4xx.
func (p *Pusher) send(ctx context.Context, body []byte) (bool, error) {
	wait := p.opts.Backoff
	for attempt := 0; ; attempt++ {
		status, _, err := p.do(ctx, http.MethodPost, body, p.opts.CompressData)
		p.mu.Lock()
		p.stats.Requests++
		p.mu.Unlock()
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		switch {
		case err == nil && status/100 == 2:
			return true, nil
		case err == nil && status != http.StatusTooManyRequests && status < 500:
			return false, nil
		}
		if attempt >= p.opts.MaxRetries {
			return false, nil
		}
		p.mu.Lock()
		p.stats.Retries++
		p.mu.Unlock()
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return false, ctx.Err()
		}
		wait *= 2
	}
}

// do makes one request to the target with the destination's authentication; it returns the status
// and the start of the reply.
func (p *Pusher) do(ctx context.Context, method string, body []byte, gzipped bool) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, p.target, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if gzipped {
		req.Header.Set("Content-Encoding", "gzip")
	}
	switch {
	case p.opts.AuthHeader != "":
		req.Header.Set("Authorization", p.opts.AuthHeader)
	case p.opts.User != "" || p.opts.Password != "":
		req.SetBasicAuth(p.opts.User, p.opts.Password)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, reply, nil
}
