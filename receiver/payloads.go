package sapcpireceiver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/mapping"
)

// PayloadsConfig configures reading the message store entries and attachments of selected messages.
// Payloads can hold personal data and need role MessagePayloadsRead: everything is off until an iFlow
// is allow-listed.
type PayloadsConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// IFlows is the allow-list of iFlow ids whose payloads are read; "*" allows every iFlow.
	IFlows []string `mapstructure:"iflows"`
	// Statuses whose payloads are read.
	Statuses []string `mapstructure:"statuses"`
	// MessageStore reads MessageProcessingLogs('…')/MessageStoreEntries (what Persist steps stored).
	MessageStore bool `mapstructure:"message_store"`
	// Attachments reads MessageProcessingLogs('…')/Attachments.
	Attachments bool `mapstructure:"attachments"`
	// MaxSize caps one payload in bytes; a longer one is cut and marked truncated.
	MaxSize int `mapstructure:"max_size"`
	// MaxPerPoll caps the payloads read per poll; the payloads of further messages are skipped (and
	// counted in the log), so that a burst of failures cannot flood the tenant or the backend.
	MaxPerPoll int `mapstructure:"max_per_poll"`
	// Binary is what a binary payload becomes: omit (name, type and size only) or base64.
	Binary         string `mapstructure:"binary"`
	MaxConcurrency int    `mapstructure:"max_concurrency"`
}

func defaultPayloadsConfig() PayloadsConfig {
	return PayloadsConfig{
		Statuses:     []string{cpi.StatusFailed, cpi.StatusEscalated},
		MessageStore: true, Attachments: true,
		MaxSize: 64 << 10, MaxPerPoll: 100, Binary: "omit", MaxConcurrency: 2,
	}
}

func (c *PayloadsConfig) validate() []error {
	if !c.Enabled {
		return nil
	}
	var errs []error
	if len(c.IFlows) == 0 {
		errs = append(errs, errors.New(`payloads.iflows: list the iFlow ids whose payloads may be read (they can hold personal data), or ["*"] for all`))
	}
	errs = append(errs, checkStatuses("payloads.statuses", c.Statuses)...)
	if !c.MessageStore && !c.Attachments {
		errs = append(errs, errors.New("payloads: switch on message_store, attachments or both"))
	}
	if c.MaxSize < 64 || c.MaxSize > 16<<20 {
		errs = append(errs, fmt.Errorf("payloads.max_size: must be between 64 bytes and 16 MiB, got %d", c.MaxSize))
	}
	if c.MaxPerPoll < 1 {
		errs = append(errs, fmt.Errorf("payloads.max_per_poll: must be at least 1, got %d", c.MaxPerPoll))
	}
	if c.Binary != "omit" && c.Binary != "base64" {
		errs = append(errs, fmt.Errorf("payloads.binary: must be omit or base64, got %q", c.Binary))
	}
	if c.MaxConcurrency < 1 || c.MaxConcurrency > 8 {
		errs = append(errs, fmt.Errorf("payloads.max_concurrency: must be between 1 and 8, got %d", c.MaxConcurrency))
	}
	return errs
}

// payloadClient is the part of the CPI client the payload sink needs.
type payloadClient interface {
	MessageStoreEntries(ctx context.Context, guid string) ([]cpi.MessageStoreEntry, error)
	MessageStoreEntryValue(ctx context.Context, id string, limit int) (cpi.MediaValue, error)
	MessageAttachments(ctx context.Context, guid string) ([]cpi.MessageProcessingLogAttachment, error)
	MessageAttachmentValue(ctx context.Context, id string, limit int) (cpi.MediaValue, error)
}

func (s *messageSource) wantsPayloads(m *cpi.MessageProcessingLog, _ time.Time) bool {
	p := s.cfg.Payloads
	if !slices.Contains(p.Statuses, m.Status) {
		return false
	}
	id := m.IntegrationArtifact.Id
	if id == "" {
		id = m.IntegrationFlowName
	}
	return slices.Contains(p.IFlows, "*") || slices.Contains(p.IFlows, id)
}

// deliverPayloads reads the payloads of the page's selected messages and hands them on as records next
// to the message (same trace and span ids). The payloads of a message are read once. When a read fails
// for a transient reason and the message is young enough to be read again, its payloads wait for that
// read (as a span waits for its runs); otherwise what could not be read is left out and logged — never
// its content.
func (s *messageSource) deliverPayloads(ctx context.Context, mpls []cpi.MessageProcessingLog) error {
	p := s.cfg.Payloads
	s.heldPayloads = map[string]bool{}
	holdAfter := s.holdAfter()
	var mu sync.Mutex
	var payloads []mapping.Payload
	var failed, skipped, held int
	var firstErr error
	forEachBounded(len(mpls), p.MaxConcurrency, func(int) bool { return true }, func(i int) {
		m := mpls[i]
		got, err := s.readPayloads(ctx, m)
		mu.Lock()
		defer mu.Unlock()
		if err != nil && !errors.Is(err, errPayloadBudget) && retryable(err) && m.LogEnd.After(holdAfter) {
			// Read again, whole, with the state's next read: none of it goes out now.
			s.heldPayloads[m.MessageGuid] = true
			held++
			return
		}
		// What was read before a failure or the end of the budget still goes out.
		payloads = append(payloads, got...)
		switch {
		case errors.Is(err, errPayloadBudget):
			skipped++
		case err != nil:
			failed++
			firstErr = cmpErr(firstErr, err)
		}
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if held > 0 {
		s.logger.Debug("Payloads of some messages failed to read; they wait for the next poll", zap.Int("messages", held))
	}
	if skipped > 0 {
		s.logger.Warn("payloads.max_per_poll reached: the payloads of some messages are not read", zap.Int("messages", skipped))
	}
	if failed > 0 {
		fields := []zap.Field{zap.Int("messages", failed), zap.Error(firstErr)}
		if httpapi.KindOf(firstErr) == httpapi.KindForbidden {
			s.logger.Warn("Payloads are not readable: the service key's instance lacks role MessagePayloadsRead", fields...)
		} else {
			s.logger.Warn("Some payloads could not be read and are left out", fields...)
		}
	}
	binary := mapping.BinaryOmit
	if p.Binary == "base64" {
		binary = mapping.BinaryBase64
	}
	return s.out.consumeLogs(ctx, formatOData, s.mapper.Payloads(payloads, binary, s.now()), "message payloads")
}

var errPayloadBudget = errors.New("payload budget of this poll spent")

// takeBudget reserves one payload of this poll's budget.
func (s *messageSource) takeBudget() bool {
	s.page.mu.Lock()
	defer s.page.mu.Unlock()
	if s.payloadBudget <= 0 {
		return false
	}
	s.payloadBudget--
	return true
}

func (s *messageSource) readPayloads(ctx context.Context, m cpi.MessageProcessingLog) ([]mapping.Payload, error) {
	p := s.cfg.Payloads
	var out []mapping.Payload
	if p.MessageStore {
		entries, err := s.payloads.MessageStoreEntries(ctx, m.MessageGuid)
		if err != nil {
			return out, err
		}
		for _, e := range entries {
			if !s.takeBudget() {
				return out, errPayloadBudget
			}
			v, err := s.payloads.MessageStoreEntryValue(ctx, e.Id, p.MaxSize)
			if err != nil {
				return out, err
			}
			out = append(out, mapping.MessageStorePayload(m, e, v))
		}
	}
	if p.Attachments {
		atts, err := s.payloads.MessageAttachments(ctx, m.MessageGuid)
		if err != nil {
			return out, err
		}
		for _, a := range atts {
			if !s.takeBudget() {
				return out, errPayloadBudget
			}
			v, err := s.payloads.MessageAttachmentValue(ctx, a.Id, p.MaxSize)
			if err != nil {
				return out, err
			}
			out = append(out, mapping.AttachmentPayload(m, a, v))
		}
	}
	return out, nil
}
