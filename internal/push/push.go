// Package push decodes what SAP Cloud Integration's External Logging pushes (the destination's
// TargetSystem OTEL, JSON or Splunk) into the pull path's entity, cpi.MessageProcessingLog.
//
// It is pure decoding: no HTTP server, no delivery rules, no OpenTelemetry names. The receiver reads a
// request body with Decompress and hands it to one of a Decoder's methods.
//
// # The pushed MPL
//
// SAP publishes no field list for the MPL it pushes. This package assumes the vocabulary of the OData
// entity MessageProcessingLog and reads it tolerantly: keys match case-insensitively and without
// separators (MessageGuid, messageGuid, message_guid), artifact fields may be nested or flattened
// (IntegrationArtifact.Id, IntegrationArtifactId, IntegrationArtifact/Id), and every key it does not
// know is kept, with its nested value, in Event.Unknown.
//
// A Run event (the MPL itself) knows these keys:
//
//	MessageGuid (also MplId)    CorrelationId            ApplicationMessageId    ApplicationMessageType
//	LogStart, LogEnd (dates)    Sender                   Receiver                IntegrationFlowName
//	Status (upper-cased)        CustomStatus             LogLevel                AlternateWebLink
//	IntegrationArtifact {Id, Name, Type, PackageId, PackageName}
//	ArchivingStatus             ArchivingSenderChannelMessages, ArchivingReceiverChannelMessages,
//	                            ArchivingLogAttachments, ArchivingPersistedMessages (booleans)
//	TransactionId               PreviousComponentName    LocalComponentName      OriginComponentName
//	CustomHeaderProperties (also CustomHeaders): [{Name, Value}], {"results": [...]} or {name: value}
//	AdapterAttributes: [{AdapterId, AdapterMessageId, Name, Value}] or {"results": [...]}
//
// The stand-alone sub-value events (destination property SubValuesExtra) know MessageGuid plus
// Name and Value (CustomHeader) or AdapterId, AdapterMessageId, Name and Value (AdapterAttribute); they
// may also carry the lists above. In every object, Id, __metadata and {"__deferred": …} navigation
// stubs are ignored.
//
// Dates are read in the destination's DateFormat (default "yyyy-MM-dd HH:mm:ss.SSS", UTC unless the
// text names a zone), as ISO-8601 with or without a zone, as epoch milliseconds (number or string) or
// as OData "/Date(ms)/".
//
// An event's kind comes, in this order, from the transport (a HEC sourcetype ending in Run,
// CustomHeader or AdapterAttribute, as DynamicSourceType writes it), from a key EventType, EventKind,
// Kind or Type whose value names a kind, or from its shape: any MPL field besides MessageGuid makes a
// Run, else adapter fields an AdapterAttribute, else Name/Value or custom headers a CustomHeader.
//
// An empty object ({}, as the OTEL connection test posts) is no event.
package push

import (
	"errors"
	"time"

	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
)

// Kind is an External Logging event kind.
type Kind string

// The event kinds SAP documents.
const (
	KindRun              Kind = "Run"
	KindCustomHeader     Kind = "CustomHeader"
	KindAdapterAttribute Kind = "AdapterAttribute"
)

// Event is one pushed thing: an MPL run, or a custom header or adapter attribute sent after it.
type Event struct {
	Kind Kind
	// MessageGuid names the MPL the event belongs to, for every kind.
	MessageGuid string
	// MPL is the message, for Run events. Its CustomHeaderProperties are CustomHeaders, so it can go to
	// the pull path's mapping as it is.
	MPL cpi.MessageProcessingLog
	// CustomHeaders are the inline headers of a Run event (SubValuesInline) or those of a CustomHeader event.
	CustomHeaders []cpi.CustomHeaderProperty
	// AdapterAttributes likewise.
	AdapterAttributes []AdapterAttribute
	// Time is the transport's timestamp: OTLP timeUnixNano or HEC time; zero for the JSON target. A Run
	// event without LogEnd takes it as LogEnd (SAP sets it to when processing stopped).
	Time time.Time
	// Unknown holds the keys this package does not know, with their values as decoded JSON (string,
	// int64, float64, bool, nil, []any, map[string]any). Keys inside nested objects are written as
	// paths: "IntegrationArtifact.Version", "CustomHeaderProperties[1].Key".
	Unknown map[string]any
	// Raw is the event's own JSON object, compacted.
	Raw []byte
}

// AdapterAttribute is one MessageProcessingLogAdapterAttribute.
type AdapterAttribute struct {
	AdapterId        string
	AdapterMessageId string
	Name             string
	Value            string
}

// Errors the decoders wrap, so the receiver can answer with the right status.
var (
	// ErrMalformed: the body is not what the target format sends (400).
	ErrMalformed = errors.New("malformed push body")
	// ErrUnsupported: a Content-Type or Content-Encoding this package does not read (415).
	ErrUnsupported = errors.New("unsupported push body")
	// ErrTooLarge: the body exceeds the size limit once decompressed (413).
	ErrTooLarge = errors.New("push body too large")
)

// Options are the destination properties that change how pushed events read.
type Options struct {
	// DateFormat is the destination property DateFormat, a Java date pattern; empty is SAP's default.
	DateFormat string
}

// Decoder decodes pushed bodies with one destination's options. It is safe for concurrent use.
type Decoder struct {
	dates DateFormat
}

// NewDecoder checks the options; a bad DateFormat is reported here, at configuration time.
func NewDecoder(opts Options) (*Decoder, error) {
	f, err := ParseDateFormat(opts.DateFormat)
	if err != nil {
		return nil, err
	}
	return &Decoder{dates: f}, nil
}

var defaultDecoder = func() *Decoder {
	d, err := NewDecoder(Options{})
	if err != nil {
		panic(err)
	}
	return d
}()

// DecodeOTLP decodes an OTEL target body with the default options; see Decoder.DecodeOTLP.
func DecodeOTLP(body []byte, contentType string) ([]Event, error) {
	return defaultDecoder.DecodeOTLP(body, contentType)
}

// DecodeJSON decodes a JSON target body with the default options; see Decoder.DecodeJSON.
func DecodeJSON(body []byte) ([]Event, error) { return defaultDecoder.DecodeJSON(body) }

// DecodeHEC decodes a Splunk target body with the default options; see Decoder.DecodeHEC.
func DecodeHEC(body []byte) ([]Event, error) { return defaultDecoder.DecodeHEC(body) }
