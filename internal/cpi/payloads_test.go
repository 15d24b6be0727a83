package cpi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
)

// staticClient is a client of a server that always gives the same answer.
func staticClient(t *testing.T, status int, ctype, body string) *Client {
	t.Helper()
	return handlerClient(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", ctype)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
}

func handlerClient(t *testing.T, h http.Handler) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := NewClient(Settings{ServiceRoot: srv.URL, Settings: httpapi.Settings{HTTPClient: srv.Client(), Retry: testRetry}})
	require.NoError(t, err)
	return c
}

func payloadTenant(t *testing.T) (*Client, *fakecpi.Server) {
	t.Helper()
	c, sim, _ := simClient(t, fakecpi.Options{Backlog: 300, Seed: 5}, "")
	return c, sim
}

func TestMessageStoreEntriesAndTheirContentForAFailedMessage(t *testing.T) {
	c, sim := payloadTenant(t)
	guids := sim.MessagesWithPayloads()
	require.NotEmpty(t, guids)
	guid := guids[0]

	entries, err := c.MessageStoreEntries(t.Context(), guid)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	e := entries[0]
	assert.Equal(t, guid, e.MessageGuid)
	assert.NotEmpty(t, e.MessageStoreId)
	assert.False(t, e.TimeStamp.IsZero())

	v, err := c.MessageStoreEntryValue(t.Context(), e.Id, 1<<20)
	require.NoError(t, err)
	assert.Equal(t, "application/xml", v.ContentType)
	assert.Contains(t, string(v.Data), "<MessageId>"+guid+"</MessageId>")
	assert.False(t, v.Truncated)
	assert.EqualValues(t, len(v.Data), v.Size)

	cut, err := c.MessageStoreEntryValue(t.Context(), e.Id, 50)
	require.NoError(t, err)
	assert.True(t, cut.Truncated)
	assert.Equal(t, v.Data[:50], cut.Data)
	assert.Equal(t, v.Size, cut.Size, "the whole size comes from Content-Length")
}

func TestAttachmentsAreTextAndBinary(t *testing.T) {
	c, sim := payloadTenant(t)
	var sawText, sawBinary bool
	for _, guid := range sim.MessagesWithPayloads() {
		atts, err := c.MessageAttachments(t.Context(), guid)
		require.NoError(t, err)
		require.NotEmpty(t, atts)
		for _, a := range atts {
			v, err := c.MessageAttachmentValue(t.Context(), a.Id, 1<<20)
			require.NoError(t, err)
			assert.EqualValues(t, a.PayloadSize, len(v.Data), a.Name)
			assert.Equal(t, a.ContentType, v.ContentType)
			switch {
			case strings.HasPrefix(a.ContentType, "text/plain"):
				sawText = true
				assert.Contains(t, string(v.Data), guid, "the error response names the message")
			case a.ContentType == "application/pdf":
				sawBinary = true
				assert.True(t, bytes.HasPrefix(v.Data, []byte("%PDF-")))
				assert.Contains(t, string(v.Data), "\x00", "binary content")
			}
		}
		if sawText && sawBinary {
			break
		}
	}
	assert.True(t, sawText && sawBinary, "text and binary attachments exist")
}

func TestAMessageWithoutPayloadsHasEmptyNavigations(t *testing.T) {
	c, sim := payloadTenant(t)
	with := map[string]bool{}
	for _, g := range sim.MessagesWithPayloads() {
		with[g] = true
	}
	page, err := c.MessageProcessingLogs(t.Context(), allTime())
	require.NoError(t, err)
	var guid string
	for _, m := range page.Results {
		if !with[m.MessageGuid] {
			guid = m.MessageGuid
			break
		}
	}
	require.NotEmpty(t, guid)
	entries, err := c.MessageStoreEntries(t.Context(), guid)
	require.NoError(t, err)
	assert.Empty(t, entries)
	atts, err := c.MessageAttachments(t.Context(), guid)
	require.NoError(t, err)
	assert.Empty(t, atts)
}

const marker = "PAYLOAD-MARKER-Jane-Doe-DE89370400440532013000"

// A payload's content never reaches an error: not when the tenant echoes it in an error body, not when
// the download breaks off, not when it looks like a login page.
func TestPayloadContentNeverAppearsInAnError(t *testing.T) {
	content := strings.Repeat("<Customer><Name>"+marker+"</Name></Customer>\n", 40)
	cases := map[string]http.HandlerFunc{
		"tenant echoes the content in a 500": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte("cannot stream " + content))
		},
		"tenant echoes the content in an OData 404": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":{"code":"Not Found","message":{"lang":"en","value":"` + marker + `"}}}`))
		},
		"download breaks off": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/xml")
			w.Header().Set("Content-Length", "100000")
			_, _ = w.Write([]byte(content[:len(content)/2]))
		},
		"content looks like a login page": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<!DOCTYPE html><html><body>" + content + "</body></html>"))
		},
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			var calls atomic.Int32
			c := handlerClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1); h(w, r) }))
			_, err := c.MessageStoreEntryValue(t.Context(), "sap-it-res:msg:AG1:1", 1<<20)
			require.Error(t, err)
			assert.NotContains(t, err.Error(), marker)
			assert.NotContains(t, err.Error(), "<Customer>")
			assert.Contains(t, err.Error(), "MessageStoreEntries('sap-it-res:msg:AG1:1')/$value", "the call is named")
			_, err = c.MessageAttachmentValue(t.Context(), "sap-it-res:att:AG1:1", 1<<20)
			require.Error(t, err)
			assert.NotContains(t, err.Error(), marker)
		})
	}
}

func TestABrokenPayloadDownloadIsRetried(t *testing.T) {
	var calls atomic.Int32
	c := handlerClient(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		if calls.Add(1) == 1 {
			w.Header().Set("Content-Length", "1000")
			_, _ = w.Write([]byte("half"))
			return
		}
		_, _ = w.Write([]byte("whole content"))
	}))
	v, err := c.MessageAttachmentValue(t.Context(), "sap-it-res:att:AG1:1", 1<<20)
	require.NoError(t, err)
	assert.Equal(t, "whole content", string(v.Data))
	assert.EqualValues(t, 2, calls.Load())
}
