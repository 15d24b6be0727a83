package mapping

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
)

func payloadMessage() cpi.MessageProcessingLog {
	return cpi.MessageProcessingLog{MessageGuid: "AGfailed0001", CorrelationId: "AGcorr0001", Status: cpi.StatusFailed,
		LogStart: opsTime(-2 * time.Second), LogEnd: opsTime(-time.Second),
		IntegrationArtifact: cpi.IntegrationArtifact{Id: "Replicate_PurchaseOrder_to_Supplier", Name: "Replicate Purchase Order"}}
}

func samplePayloads() []Payload {
	mpl := payloadMessage()
	xml := []byte(`<?xml version="1.0"?><PurchaseOrder><Number>4500012345</Number></PurchaseOrder>`)
	pdf := []byte("%PDF-1.4\n\x00\x01\x02\xff\xfe binary")
	// "Müller" cut after the first byte of ü: the cap split a character.
	cut := []byte("{\"name\":\"M\xc3")
	latin1 := []byte("Gr\xfc\xdfe aus M\xfcnchen")
	store := cpi.MessageStoreEntry{Id: "sap-it-res:msg:AGfailed0001:1", MessageGuid: mpl.MessageGuid, MessageStoreId: "Persist_Failed_Request", TimeStamp: opsTime(-time.Second)}
	att := func(id, name, ctype string, size int64) cpi.MessageProcessingLogAttachment {
		return cpi.MessageProcessingLogAttachment{Id: id, MessageGuid: mpl.MessageGuid, TimeStamp: opsTime(-time.Second), Name: name, ContentType: ctype, PayloadSize: cpi.Int64(size)}
	}
	return []Payload{
		MessageStorePayload(mpl, store, cpi.MediaValue{ContentType: "application/xml", Data: xml, Size: int64(len(xml))}),
		AttachmentPayload(mpl, att("att:1", "Error_Response", "text/plain; charset=utf-8", 40), cpi.MediaValue{ContentType: "text/plain; charset=utf-8", Data: []byte("HTTP 500 from supplier: order is locked\n"), Size: 40}),
		AttachmentPayload(mpl, att("att:2", "Original_Request.pdf", "application/pdf", 2100), cpi.MediaValue{ContentType: "application/pdf", Data: pdf, Size: 2100, Truncated: true}),
		AttachmentPayload(mpl, att("att:3", "Customer.json", "application/json", 4096), cpi.MediaValue{ContentType: "application/json", Data: cut, Size: -1, Truncated: true}),
		AttachmentPayload(mpl, att("att:4", "legacy.txt", "text/plain; charset=iso-8859-1", int64(len(latin1))), cpi.MediaValue{ContentType: "text/plain; charset=iso-8859-1", Data: latin1, Size: int64(len(latin1))}),
		AttachmentPayload(mpl, att("att:5", "note", "", -1), cpi.MediaValue{Data: []byte("no content type, plain words\n"), Size: 29}),
	}
}

func TestPayloadsMapToTheGoldenRecordsWithBinaryAsBase64(t *testing.T) {
	logs := testMapper(nil).Payloads(samplePayloads(), BinaryBase64, opsNow)
	compareGolden(t, "payloads-base64.yaml", logs)
	assertAttributesDeclared(t, logs, EventMessagePayload, PayloadAttributes)
}

func TestPayloadsLeaveBinaryOutWhenConfigured(t *testing.T) {
	logs := testMapper(nil).Payloads(samplePayloads(), BinaryOmit, opsNow)
	compareGolden(t, "payloads-omitted.yaml", logs)
	recs := logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	pdf := recs.At(2)
	enc, _ := pdf.Attributes().Get(AttrPayloadEncoding)
	assert.Equal(t, EncodingOmitted, enc.Str())
	assert.NotContains(t, pdf.Body().Str(), "PDF-1.4", "the content stays out")
}

func TestAPayloadSharesItsMessagesTraceAndSpan(t *testing.T) {
	mpl := payloadMessage()
	msg := testMapper(nil).Messages([]cpi.MessageProcessingLog{mpl}, nil, opsNow).ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	recs := testMapper(nil).Payloads(samplePayloads()[:2], BinaryOmit, opsNow).ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	require.Equal(t, 2, recs.Len())
	for i := range recs.Len() {
		assert.Equal(t, msg.TraceID(), recs.At(i).TraceID())
		assert.Equal(t, msg.SpanID(), recs.At(i).SpanID())
	}
}

func TestTextContentTypes(t *testing.T) {
	for ct, want := range map[string]bool{
		"text/plain": true, "text/xml; charset=utf-8": true, "application/json": true, "Application/JSON": true,
		"application/xml": true, "application/soap+xml; charset=utf-8": true, "application/vnd.api+json": true,
		"application/edifact": true, "application/x-www-form-urlencoded": true, "text/csv": true,
		"application/pdf": false, "application/octet-stream": false, "image/png": false, "application/zip": false,
		"application/json;;bad": true,
	} {
		assert.Equal(t, want, IsTextContentType(ct), ct)
	}
}

func TestACutMultiByteCharacterIsDroppedNotMangled(t *testing.T) {
	text, ok := payloadText("application/json", []byte("{\"n\":\"M\xc3"), true)
	require.True(t, ok)
	assert.Equal(t, `{"n":"M`, text)
	text, ok = payloadText("text/plain", []byte("\xe2\x82\xac\xe2\x82"), true) // € then two thirds of another
	require.True(t, ok)
	assert.Equal(t, "€", text)
	_, ok = payloadText("text/plain", []byte("M\xc3"), false)
	assert.False(t, ok, "a whole payload that is not UTF-8 is not text")
}
