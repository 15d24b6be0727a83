package cpi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
)

// GroupPayloads reads message payloads: the MPL rate-limit bucket, and the payload role. A 404 on a
// message's navigation usually means its payloads have expired.
var GroupPayloads = httpapi.Group{Name: GroupMessages.Name, ForbiddenHint: "payloads are opt-in: " + fmt.Sprintf(roleHint, "MessagePayloadsRead"),
	NotFoundHint: "the message or its stored payload no longer exists (the tenant keeps them for a limited time), or the API is " + notOnTenant}

// MessageStoreEntry is a message persisted by a Persist step (com.sap.hci.api.MessageStoreEntry). The
// API hub's spec writes TimeStamp as "Timestamp"; member names match case-insensitively, so both decode.
type MessageStoreEntry struct {
	Id             string
	MessageGuid    string
	MessageStoreId string // the Persist step's id, e.g. Persist1
	TimeStamp      Time
	HasAttachments Bool
}

// MessageProcessingLogAttachment is an attachment of an MPL (com.sap.hci.api.MessageProcessingLogAttachment).
type MessageProcessingLogAttachment struct {
	Id          string
	MessageGuid string
	TimeStamp   Time
	Name        string
	ContentType string
	PayloadSize Int64
}

// MediaValue is a payload read from $value, at most the caller's byte cap.
type MediaValue struct {
	ContentType string
	Data        []byte
	// Truncated reports that the value is longer than the cap and Data holds its first bytes.
	Truncated bool
	// Size is the whole value's length when known (read to the end, or the Content-Length), else -1.
	Size int64
}

// MessageStoreEntries lists the message-store entries of one message.
func (c *Client) MessageStoreEntries(ctx context.Context, messageGUID string) ([]MessageStoreEntry, error) {
	path := "MessageProcessingLogs" + keyPredicate(keyPart{Value: messageGUID}) + "/MessageStoreEntries"
	return listAll[MessageStoreEntry](ctx, c, GroupPayloads, "fetching the MessageStoreEntries of message "+messageGUID, path, nil)
}

// MessageStoreEntryValue reads MessageStoreEntries('<id>')/$value, at most limit bytes.
func (c *Client) MessageStoreEntryValue(ctx context.Context, id string, limit int) (MediaValue, error) {
	return c.mediaValue(ctx, "fetching MessageStoreEntries("+literal(id)+")/$value", "MessageStoreEntries"+keyPredicate(keyPart{Value: id})+"/$value", limit)
}

// MessageAttachments lists the attachments of one message.
func (c *Client) MessageAttachments(ctx context.Context, messageGUID string) ([]MessageProcessingLogAttachment, error) {
	path := "MessageProcessingLogs" + keyPredicate(keyPart{Value: messageGUID}) + "/Attachments"
	return listAll[MessageProcessingLogAttachment](ctx, c, GroupPayloads, "fetching the Attachments of message "+messageGUID, path, nil)
}

// MessageAttachmentValue reads MessageProcessingLogAttachments('<id>')/$value, at most limit bytes.
func (c *Client) MessageAttachmentValue(ctx context.Context, id string, limit int) (MediaValue, error) {
	return c.mediaValue(ctx, "fetching MessageProcessingLogAttachments("+literal(id)+")/$value", "MessageProcessingLogAttachments"+keyPredicate(keyPart{Value: id})+"/$value", limit)
}

// mediaValue reads a media entity's value with a byte cap. Its errors never carry the body: a failed
// payload call is reported by status, kind and hint only, because the tenant's error text for a media
// path may echo the content, and content may hold personal data.
func (c *Client) mediaValue(ctx context.Context, op, path string, limit int) (MediaValue, error) {
	limit = max(limit, 0)
	var out MediaValue
	req := httpapi.Request{URL: c.url(path, nil), Accept: "*/*", MaxBody: int64(limit) + 1}
	err := c.api.Do(ctx, GroupPayloads, op, req, func(body io.Reader, resp *http.Response) error {
		buf, rerr := io.ReadAll(io.LimitReader(body, int64(limit)+1))
		if rerr != nil {
			// A download that broke off is worth repeating, like a cut-off JSON document.
			return fmt.Errorf("%w: %w", httpapi.ErrTruncated, rerr)
		}
		out = MediaValue{ContentType: resp.Header.Get("Content-Type"), Size: resp.ContentLength}
		if len(buf) > limit {
			out.Data, out.Truncated = buf[:limit], true
		} else {
			out.Data, out.Size = buf, int64(len(buf))
		}
		return nil
	})
	return out, scrub(err)
}

// scrub drops the tenant's own error text (Detail of a non-2xx answer) from a payload call's error;
// status, kind and hint stay. A broken download gets a plain description instead of the decoder's.
func scrub(err error) error {
	var e *httpapi.Error
	if !errors.As(err, &e) {
		return err
	}
	clean := *e
	switch {
	case e.Status >= 300 && e.Detail != "":
		clean.Detail = "(the tenant's error text is not shown for payload calls)"
	case e.Kind == httpapi.KindBadResponse:
		clean.Detail = "the payload download broke off"
	default:
		return err
	}
	return &clean
}
