package sapcpireceiver

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
)

// rareInterval is how often a source the tenant does not offer, or the credentials may not read, is
// tried again: often enough to notice a role being added, rarely enough not to flood the log or tenant.
const rareInterval = 15 * time.Minute

// poller runs one source: load its checkpoint, then poll on an interval. A poll reads pages, maps them,
// hands them to the next consumer and commits the checkpoint after each accepted page; whatever it did
// not commit, the next poll reads again.
type poller struct {
	name     string
	interval time.Duration
	load     func(context.Context) error
	poll     func(context.Context) error
	logger   *zap.Logger
	// rare replaces rareInterval in tests.
	rare time.Duration

	lastErr string
}

func (p *poller) run(ctx context.Context) {
	// Polling without the checkpoint would repeat what was delivered before, so a storage failure at
	// start-up is retried rather than ignored.
	for {
		err := p.load(ctx)
		if err == nil {
			break
		}
		p.logger.Error("Cannot read the checkpoint; retrying", zap.Error(err))
		if !sleep(ctx, p.interval) {
			return
		}
	}
	for {
		wait := p.report(ctx, p.poll(ctx))
		if !sleep(ctx, wait) {
			return
		}
	}
}

// report logs a failure once (repeats of the same error go to debug) and picks the next wait.
func (p *poller) report(ctx context.Context, err error) time.Duration {
	if err == nil {
		if p.lastErr != "" {
			p.logger.Info("Source recovered")
			p.lastErr = ""
		}
		return p.interval
	}
	if ctx.Err() != nil {
		return p.interval
	}
	msg := err.Error()
	kind := httpapi.KindOf(err)
	if msg != p.lastErr {
		fields := []zap.Field{zap.Error(err)}
		var apiErr *httpapi.Error
		if errors.As(err, &apiErr) {
			fields = append(fields, zap.String("kind", apiErr.Kind.String()))
		}
		switch kind {
		case httpapi.KindNotFound:
			// Expected where the tenant lacks the API (Neo vs Cloud Foundry): say so once, not as a failure.
			p.logger.Warn("Source not available on this tenant; checking again rarely", fields...)
		default:
			p.logger.Error("Poll failed; will retry", fields...)
		}
		p.lastErr = msg
	} else {
		p.logger.Debug("Poll failed again", zap.Error(err))
	}
	switch kind {
	case httpapi.KindNotFound, httpapi.KindForbidden:
		rare := p.rare
		if rare == 0 {
			rare = rareInterval
		}
		return max(p.interval, rare)
	}
	return p.interval
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
