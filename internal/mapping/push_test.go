package mapping

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/push"
)

// Sub-values apart from their message: custom headers pass the message's allow-list, adapter attributes
// are keyed by adapter, and an event left with nothing gives no record.
func TestPushedSubValuesKeepTheAllowListAndSkipEmptyEvents(t *testing.T) {
	m := &Mapper{Tenant: Tenant{URL: "https://t.example/api/v1", Name: "prod"}, CustomHeader: func(name string) bool { return name == "po_number" }}
	at := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	logs := m.PushedSubValues([]PushedSubValues{
		{MessageGuid: "AG1", Format: "json", Time: at, CustomHeaders: cpi.CustomHeaderProperties{{Name: "po_number", Value: "4500012345"}, {Name: "email", Value: "someone@example.com"}}},
		{MessageGuid: "AG1", Format: "json", AdapterAttributes: []push.AdapterAttribute{{AdapterId: "SOAP", Name: "MessageId", Value: "m-1"}}},
		{MessageGuid: "AG2", Format: "json", CustomHeaders: cpi.CustomHeaderProperties{{Name: "email", Value: "someone@example.com"}}},
	}, at.Add(time.Minute))
	require.Equal(t, 2, logs.LogRecordCount())
	lrs := logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	first, second := lrs.At(0), lrs.At(1)
	assert.Equal(t, EventMessageSubValues, first.EventName())
	assert.Equal(t, at, first.Timestamp().AsTime())
	assert.Equal(t, map[string]any{AttrMessageID: "AG1", AttrPushFormat: "json", AttrMessageCustomHeaders: map[string]any{"po_number": "4500012345"}}, first.Attributes().AsRaw())
	assert.Equal(t, at.Add(time.Minute), second.Timestamp().AsTime(), "without a transport time, when it was received")
	assert.Equal(t, map[string]any{AttrMessageID: "AG1", AttrPushFormat: "json", AttrMessageAdapterAttributes: map[string]any{"SOAP.MessageId": "m-1"}}, second.Attributes().AsRaw())
}
