package httpapi

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Kind classifies a failed call by what the user can do about it.
type Kind int

const (
	// KindTransport is a network error or timeout before a complete answer arrived.
	KindTransport Kind = iota
	// KindUnauthorized is a 401 that survived one token refresh: the credentials are wrong.
	KindUnauthorized
	// KindLoginPage is an HTML login page where JSON was expected: the request was not authenticated.
	KindLoginPage
	// KindForbidden is a 403: the credentials lack a role.
	KindForbidden
	// KindNotFound is a 404: the API or the entity does not exist on this tenant.
	KindNotFound
	// KindThrottled is a 429 that outlasted the retries.
	KindThrottled
	// KindServer is a 5xx that outlasted the retries.
	KindServer
	// KindClient is any other 4xx, typically a query the tenant does not support.
	KindClient
	// KindBadResponse is a 2xx whose body is not the expected document (malformed, truncated, too large).
	KindBadResponse
)

func (k Kind) String() string {
	switch k {
	case KindTransport:
		return "transport"
	case KindUnauthorized:
		return "unauthorized"
	case KindLoginPage:
		return "login_page"
	case KindForbidden:
		return "forbidden"
	case KindNotFound:
		return "not_found"
	case KindThrottled:
		return "throttled"
	case KindServer:
		return "server_error"
	case KindClient:
		return "client_error"
	case KindBadResponse:
		return "bad_response"
	}
	return "unknown"
}

// Error is a failed API call. Its text names the call, the answer and what to do; it never holds a
// credential, a token or a payload.
type Error struct {
	// Op names the call, e.g. "fetching MessageProcessingLogs".
	Op     string
	Kind   Kind
	Status int
	// Detail is the tenant's own error text (one line, shortened) or the decoding failure.
	Detail string
	// Hint tells the user what to change.
	Hint string
	// RetryAfter is the server's Retry-After, when it sent one.
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	b.WriteString(": ")
	if e.Status != 0 {
		fmt.Fprintf(&b, "%d %s", e.Status, http.StatusText(e.Status))
	} else {
		b.WriteString(e.Kind.String())
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.Hint != "" {
		b.WriteString(" — ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of err, or KindTransport when err is not an *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindTransport
}

// retryable tells whether repeating the same call may succeed.
func (e *Error) retryable() bool {
	switch e.Kind {
	case KindTransport, KindThrottled, KindServer:
		return true
	case KindBadResponse:
		// A body cut short is a transport failure in disguise; a well-formed wrong body is not.
		return errors.Is(e.Err, ErrTruncated)
	}
	return false
}

const maxDetailLen = 300

// errorDetail extracts the human text from an error body: OData JSON ({"error":{"message":{"value"}}}),
// the XML-derived JSON variant ({"message":{"#text"}}), OData XML, or plain text.
func errorDetail(body []byte) string {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return ""
	}
	var text string
	switch body[0] {
	case '{':
		text = jsonErrorText(body)
	case '<':
		if looksLikeHTML(body) {
			return ""
		}
		text = xmlErrorText(body)
	default:
		text = string(body)
	}
	return oneLine(text, maxDetailLen)
}

type odataMessage struct {
	Value string `json:"value"`
	Text  string `json:"#text"`
}

func (m *odataMessage) UnmarshalJSON(b []byte) error {
	// "message" is an object in OData V2 and a bare string in some gateways.
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &m.Value)
	}
	type plain odataMessage
	return json.Unmarshal(b, (*plain)(m))
}

func (m odataMessage) text() string {
	if m.Value != "" {
		return m.Value
	}
	return m.Text
}

func jsonErrorText(body []byte) string {
	var doc struct {
		// OData nests {"code","message"} under "error"; Cloud ALM puts a string there.
		Error   json.RawMessage `json:"error"`
		Code    string          `json:"code"`
		Message odataMessage    `json:"message"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return string(body)
	}
	code, msg := doc.Code, doc.Message.text()
	if len(doc.Error) > 0 {
		var nested struct {
			Code    string       `json:"code"`
			Message odataMessage `json:"message"`
		}
		var flat string
		switch {
		case json.Unmarshal(doc.Error, &nested) == nil:
			code, msg = nested.Code, nested.Message.text()
		case json.Unmarshal(doc.Error, &flat) == nil:
			code = flat
		}
	}
	switch {
	case msg != "" && code != "":
		return code + ": " + msg
	case msg != "":
		return msg
	case code != "":
		return code
	}
	return string(body)
}

func xmlErrorText(body []byte) string {
	var doc struct {
		Code    string `xml:"code"`
		Message string `xml:"message"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil || (doc.Code == "" && doc.Message == "") {
		return string(body)
	}
	if doc.Code != "" && doc.Message != "" {
		return doc.Code + ": " + doc.Message
	}
	return doc.Code + doc.Message
}

// looksLikeHTML recognises the IdP or approuter login page that SAP serves instead of JSON when a
// request is not authenticated.
func looksLikeHTML(body []byte) bool {
	head := bytes.ToLower(body[:min(len(body), 512)])
	return bytes.Contains(head, []byte("<!doctype html")) || bytes.Contains(head, []byte("<html"))
}

func oneLine(s string, limit int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return s
}
