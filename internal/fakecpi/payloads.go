package fakecpi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Two of three FAILED messages keep payloads: a message-store entry (the XML request, written by a
// Persist step) and an attachment with the error response as text; half of those also carry a binary
// attachment (a PDF). There is no tenant-wide listing, as on a real tenant: payloads are read per message.

const (
	storeEntryPrefix = "sap-it-res:msg:"
	attachmentPrefix = "sap-it-res:att:"
)

func guidHash(guid string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(guid))
	return h.Sum32()
}

// hasPayloads tells whether a message in its visible state keeps payloads; callers hold s.mu.
func hasPayloads(m *message) bool {
	v := m.visible()
	return v != nil && v.status == "FAILED" && guidHash(m.guid)%3 != 0
}

func hasBinaryAttachment(m *message) bool { return guidHash(m.guid)%2 == 0 }

// MessagesWithPayloads returns the ids of the messages that have payloads now, for tests.
func (s *Server) MessagesWithPayloads() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ensureStarted(s.now())
	s.store.advance(s.now())
	var out []string
	for _, m := range s.store.visible {
		if hasPayloads(m) {
			out = append(out, m.guid)
		}
	}
	return out
}

// lookup returns the visible message with this id; callers must not hold s.mu.
func (s *Server) lookup(guid string, now time.Time) (message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.store.advance(now)
	m, ok := s.store.byGUID[guid]
	if !ok || m.cur < 0 {
		return message{}, false
	}
	return *m, true
}

func storeEntryContent(m message) []byte {
	po := m.appID
	if po == "" {
		po = "PO-4500000000"
	}
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<ns0:PurchaseOrder xmlns:ns0="urn:acme:procurement:po"><MessageId>` + m.guid + `</MessageId><Number>` + po[3:] +
		`</Number><Supplier>SUPPLIER_PORTAL</Supplier><Currency>EUR</Currency><Item><Material>MAT-1001</Material><Quantity>12</Quantity></Item></ns0:PurchaseOrder>`)
}

// pdfContent is a small binary document: NUL bytes and every byte value, as in a real PDF stream.
func pdfContent(m message) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\nstream\n")
	for i := range 2048 {
		b.WriteByte(byte((i * 31) ^ int(guidHash(m.guid)>>(i%24))))
	}
	b.WriteString("\nendstream\n%%EOF\n")
	return b.Bytes()
}

type simAttachment struct {
	id, name, ctype string
	content         []byte
}

func attachments(m message) []simAttachment {
	out := []simAttachment{{id: attachmentPrefix + m.guid + ":1", name: "Error_Response", ctype: "text/plain; charset=utf-8", content: []byte("Error response of message " + m.guid + ":\n" + m.errorText)}}
	if hasBinaryAttachment(&m) {
		out = append(out, simAttachment{id: attachmentPrefix + m.guid + ":2", name: "Original_Request.pdf", ctype: "application/pdf", content: pdfContent(m)})
	}
	return out
}

func (s *Server) payloads(ep entityPath, base string, now time.Time) (int, []byte, string, bool) {
	switch {
	case ep.set == "MessageProcessingLogs" && len(ep.keys) == 1:
		m, ok := s.lookup(ep.keys[""], now)
		if !ok {
			return jsonError(http.StatusNotFound, "Not Found", "Message processing log not found")
		}
		rows := []map[string]any{}
		if hasPayloads(&m) {
			at := odataDate(m.visible().logEnd)
			if ep.rest == "MessageStoreEntries" {
				id := storeEntryPrefix + m.guid + ":1"
				rows = append(rows, map[string]any{
					"__metadata": map[string]any{"id": base + "MessageStoreEntries('" + id + "')", "type": "com.sap.hci.api.MessageStoreEntry",
						"media_src": base + "MessageStoreEntries('" + id + "')/$value"},
					"Id": id, "MessageGuid": m.guid, "MessageStoreId": "Persist_Failed_Request", "TimeStamp": at, "HasAttachments": false,
				})
			} else {
				for _, a := range attachments(m) {
					rows = append(rows, map[string]any{
						"__metadata": map[string]any{"id": base + "MessageProcessingLogAttachments('" + a.id + "')", "type": "com.sap.hci.api.MessageProcessingLogAttachment",
							"media_src": base + "MessageProcessingLogAttachments('" + a.id + "')/$value"},
						"Id": a.id, "MessageGuid": m.guid, "TimeStamp": at, "Name": a.name, "ContentType": a.ctype,
						"PayloadSize": strconv.Itoa(len(a.content)),
					})
				}
			}
		}
		raw, _ := json.Marshal(map[string]any{"d": map[string]any{"results": rows}})
		return http.StatusOK, raw, "application/json", true
	case ep.set == "MessageStoreEntries" && len(ep.keys) == 1 && ep.rest == "$value":
		guid, ok := payloadGUID(ep.keys[""], storeEntryPrefix)
		if m, found := s.lookup(guid, now); ok && found && hasPayloads(&m) {
			return http.StatusOK, storeEntryContent(m), "application/xml", true
		}
		return jsonError(http.StatusNotFound, "Not Found", "Message store entry not found")
	case ep.set == "MessageProcessingLogAttachments" && len(ep.keys) == 1 && ep.rest == "$value":
		id := ep.keys[""]
		guid, ok := payloadGUID(id, attachmentPrefix)
		if m, found := s.lookup(guid, now); ok && found && hasPayloads(&m) {
			for _, a := range attachments(m) {
				if a.id == id {
					return http.StatusOK, a.content, a.ctype, true
				}
			}
		}
		return jsonError(http.StatusNotFound, "Not Found", fmt.Sprintf("Attachment %s not found", id))
	}
	return 0, nil, "", false
}

// payloadGUID reads the message id out of "<prefix><guid>:<n>".
func payloadGUID(id, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(id, prefix)
	if !ok {
		return "", false
	}
	i := strings.LastIndexByte(rest, ':')
	if i <= 0 {
		return "", false
	}
	return rest[:i], true
}
