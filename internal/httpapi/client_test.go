package httpapi

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestRetryAfterIsHonouredUpToItsCap(t *testing.T) {
	c := &Client{retry: RetryPolicy{InitialInterval: 10 * time.Millisecond, MaxInterval: 20 * time.Millisecond, MaxRetryAfter: 2 * time.Second}}
	assert.Equal(t, 2*time.Second, c.backoff(0, 10*time.Second))
	assert.Equal(t, time.Second, c.backoff(0, time.Second))
	for attempt := range 10 {
		d := c.backoff(attempt, 0)
		assert.GreaterOrEqual(t, d, 5*time.Millisecond)
		assert.LessOrEqual(t, d, 20*time.Millisecond)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	assert.Equal(t, 3*time.Second, parseRetryAfter("3", now))
	assert.Equal(t, 90*time.Second, parseRetryAfter(now.Add(90*time.Second).Format(http.TimeFormat), now))
	assert.Zero(t, parseRetryAfter("soon", now))
	assert.Zero(t, parseRetryAfter("-1", now))
}

func TestErrorBodiesOfEveryShapeAreReadable(t *testing.T) {
	tests := map[string]struct{ body, want string }{
		"cloud alm":    {`{"error":"Bad Request","message":"Unknown provider CPI_MESSAGEZ"}`, "Bad Request: Unknown provider CPI_MESSAGEZ"},
		"odata json":   {`{"error":{"code":"SY/530","message":{"lang":"en","value":"PO is locked"}}}`, "SY/530: PO is locked"},
		"xml-ish json": {`{"code":"Bad Request","message":{"@lang":"en","#text":"Invalid key"}}`, "Bad Request: Invalid key"},
		"odata xml":    {`<?xml version="1.0"?><error xmlns="x"><code>Forbidden</code><message xml:lang="en">No role</message></error>`, "Forbidden: No role"},
		"plain":        {"Service Unavailable\n  try later", "Service Unavailable try later"},
		"html":         {"<html><body>Log on</body></html>", ""},
		"empty":        {"", ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tt.want, errorDetail([]byte(tt.body)))
		})
	}
	long := errorDetail([]byte(strings.Repeat("x", 1000)))
	assert.Len(t, long, maxDetailLen+len("…"))
}
