package cpi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// DecodeMessagePage decodes one MessageProcessingLogs collection document, as the client does with a
// response body.
//
// It is the hot path of a backfill (a thousand entries a page, tens of pages a second), so it does not go
// through encoding/json's reflection: the body is read through a reused window and parsed by hand. Members it
// does not map (__metadata, __deferred stubs, fields outside $select) are only checked for syntax, each
// entry's strings share one allocation, and the wire types decode through their own UnmarshalJSON. The
// result is the one DecodePage[MessageProcessingLog] gives, error class included (ErrTruncated for a body
// cut short, ErrMalformed otherwise, a wire type's own error as it is); an entry in a shape this parser
// does not take on its own (an escaped or case-folded key, a number where a string belongs, …) is handed
// to encoding/json whole, so rare shapes cost speed, never correctness. FuzzMessagePageDecoders holds the
// two decoders to the same answers.
func DecodeMessagePage(r io.Reader) (Page[MessageProcessingLog], error) {
	d := getDecoder()
	defer d.release()
	d.r, d.readErr, d.eof = r, nil, false
	d.buf, d.pos, d.base = d.buf[:0], 0, 0
	if d.scratch == nil && d.lastLen > 0 {
		d.scratch = make([]MessageProcessingLog, 0, d.lastLen)
	}
	var page Page[MessageProcessingLog]
	err := d.page(&page)
	if d.readErr != nil && isTruncated(err) {
		// The body broke off where the document needed more: that failure is the answer, as with
		// encoding/json's streaming decoder.
		return page, wrapJSON(d.readErr)
	}
	return page, err
}

// idleDecoders keeps a few decoders with their buffers between pages. Not a sync.Pool: a page allocates
// enough for the runtime to collect more than once between two pages, and a pool emptied by each
// collection would make every page grow a megabyte of buffers anew.
var idleDecoders = make(chan *mplDecoder, 2)

func getDecoder() *mplDecoder {
	select {
	case d := <-idleDecoders:
		return d
	default:
		return &mplDecoder{}
	}
}

// maxPooledBuffer keeps a rare huge response from pinning its buffer in the pool.
const maxPooledBuffer = 8 << 20

// mplDecoder is the state of one page's decode; it is pooled, so its buffers outlive the page.
type mplDecoder struct {
	// buf is a window on the body: buf[pos:] is not parsed yet. Within an entry it only grows, so offsets
	// stay valid; between entries what is parsed is dropped (base counts it, for error offsets).
	r       io.Reader
	buf     []byte
	pos     int
	base    int
	eof     bool
	readErr error
	// scratch collects the page's entries and becomes the page's Results; the next page's is sized like
	// the last (lastLen), so that a page neither grows by doubling nor carries a second copy of itself,
	// and is made only when that page starts, so that nothing of that size waits between polls.
	scratch []MessageProcessingLog
	lastLen int
	// arena holds the unescaped strings of the current entry; fix says which field gets which span.
	arena []byte
	fix   []fixup
	// propFix places the strings of the entry's CustomHeaderProperties.
	propFix []propFixup
}

type fixup struct {
	dst        *string
	start, end int
}

type propFixup struct {
	index      int
	value      bool
	start, end int
}

func (d *mplDecoder) release() {
	// After an error the entries read so far are dropped, with their strings.
	clear(d.scratch)
	d.scratch = d.scratch[:0]
	d.fix = d.fix[:0]
	d.r, d.readErr = nil, nil
	if cap(d.buf) > maxPooledBuffer {
		d.buf = nil
	}
	if cap(d.arena) > maxPooledBuffer {
		d.arena = nil
	}
	select {
	case idleDecoders <- d:
	default:
	}
}

// window is the size the body is read in; a larger entry grows it.
const window = 64 << 10

// fill reads more of the body onto the end of the window; false when there is no more (its end, or a read
// error, kept for DecodeMessagePage).
func (d *mplDecoder) fill() bool {
	for !d.eof {
		if len(d.buf) == cap(d.buf) {
			grown := make([]byte, len(d.buf), max(window, cap(d.buf)+cap(d.buf)/2))
			copy(grown, d.buf)
			d.buf = grown
		}
		n, err := d.r.Read(d.buf[len(d.buf):cap(d.buf)])
		d.buf = d.buf[:len(d.buf)+n]
		if err != nil {
			d.eof = true
			if err != io.EOF {
				d.readErr = err
			}
		}
		if n > 0 {
			return true
		}
	}
	return false
}

// compact drops what is parsed; only between entries, where no offset into the window is held.
func (d *mplDecoder) compact() {
	if d.pos < window/2 {
		return
	}
	n := copy(d.buf, d.buf[d.pos:])
	d.buf = d.buf[:n]
	d.base += d.pos
	d.pos = 0
}

// byteAt returns the body's byte at window offset i, reading as far as needed.
func (d *mplDecoder) byteAt(i int) (byte, bool) {
	if i < len(d.buf) {
		return d.buf[i], true
	}
	return d.byteAtAfterFill(i)
}

func (d *mplDecoder) byteAtAfterFill(i int) (byte, bool) {
	for i >= len(d.buf) {
		if !d.fill() {
			return 0, false
		}
	}
	return d.buf[i], true
}

func isTruncated(err error) bool {
	_, ok := err.(truncatedError)
	return ok
}

// truncatedError is the decoder's own "the document is not complete": the body ended where the JSON
// still needed more. It is classified as ErrTruncated, as encoding/json's io.ErrUnexpectedEOF is.
type truncatedError struct{ err error }

func (e truncatedError) Error() string { return e.err.Error() }
func (e truncatedError) Unwrap() error { return e.err }

func (d *mplDecoder) truncated() error {
	return truncatedError{wrapJSON(io.ErrUnexpectedEOF)}
}

func (d *mplDecoder) malformed(what string) error {
	if d.pos < len(d.buf) {
		return fmt.Errorf("%w: %s (byte %d, %q)", ErrNotOData, what, d.base+d.pos, d.buf[d.pos])
	}
	return fmt.Errorf("%w: %s (byte %d)", ErrNotOData, what, d.base+d.pos)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// peek skips whitespace and returns the next byte; false at the end of the body.
func (d *mplDecoder) peek() (byte, bool) {
	if d.pos < len(d.buf) && !isSpace(d.buf[d.pos]) {
		return d.buf[d.pos], true // the common case: no whitespace between tokens
	}
	for {
		c, ok := d.byteAt(d.pos)
		if !ok || !isSpace(c) {
			return c, ok
		}
		d.pos++
	}
}

// The envelope below follows decodeCollection step by step (json.Decoder's Token, More and Decode), so
// that every document fails where, and as, it fails there.

// page reads {"d":{"results":[…],"__next":…,"__count":…}} or {"d":[…]}; other members are skipped.
func (d *mplDecoder) page(p *Page[MessageProcessingLog]) error {
	if err := d.openDelim('{'); err != nil {
		return err
	}
	foundD := false
	first := true
	for d.more() {
		key, err := d.memberKey(&first)
		if err != nil {
			return err
		}
		if string(key) != "d" {
			if err := d.skipMember(); err != nil {
				return err
			}
			continue
		}
		foundD = true
		if err := d.colon(); err != nil {
			return err
		}
		c, err := d.valueToken()
		if err != nil {
			return err
		}
		switch c {
		case '[':
			if err := d.results(); err != nil {
				return err
			}
		case '{':
			if err := d.collectionBody(p); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: \"d\" is neither an object nor an array", ErrNotOData)
		}
	}
	if !foundD {
		return fmt.Errorf("%w: no \"d\" member", ErrNotOData)
	}
	if err := d.closeDelim('}'); err != nil {
		return err
	}
	if n := len(d.scratch); n > 0 {
		p.Results = d.scratch
		d.scratch, d.lastLen = nil, n
	}
	return nil
}

func (d *mplDecoder) collectionBody(p *Page[MessageProcessingLog]) error {
	first := true
	for d.more() {
		key, err := d.memberKey(&first)
		if err != nil {
			return err
		}
		switch string(key) {
		case "results":
			if err := d.colon(); err != nil {
				return err
			}
			c, err := d.valueToken()
			if err != nil {
				return err
			}
			if c != '[' {
				return fmt.Errorf("%w: expected '['", ErrNotOData)
			}
			if err := d.results(); err != nil {
				return err
			}
		case "__next":
			raw, err := d.memberValue()
			if err != nil {
				return err
			}
			switch raw[0] {
			case '"':
				p.Next = d.unquoteString(raw)
			case 'n':
			default:
				return fmt.Errorf("%w: __next is not a string", ErrNotOData)
			}
		case "__count":
			raw, err := d.memberValue()
			if err != nil {
				return err
			}
			var n Int64
			if err := n.UnmarshalJSON(raw); err != nil {
				return wrapJSON(err)
			}
			p.Count, p.HasCount = int64(n), true
		default:
			if err := d.skipMember(); err != nil {
				return err
			}
		}
	}
	return d.closeDelim('}')
}

// more is json.Decoder.More: another element or member follows.
func (d *mplDecoder) more() bool {
	c, ok := d.peek()
	return ok && c != ']' && c != '}'
}

// openDelim is the first Token of the document, which must be want.
func (d *mplDecoder) openDelim(want byte) error {
	c, err := d.valueToken()
	if err != nil {
		return err
	}
	if c != want {
		return fmt.Errorf("%w: expected %q", ErrNotOData, want)
	}
	return nil
}

// valueToken reads a Token where a value starts: '{' or '[' is consumed and returned; a scalar is read
// whole and reported as 0 (the caller wanted a delimiter); a closing or separating byte is malformed.
func (d *mplDecoder) valueToken() (byte, error) {
	c, ok := d.peek()
	switch {
	case !ok:
		return 0, d.truncated()
	case c == '{' || c == '[':
		d.pos++
		return c, nil
	case c == ']' || c == '}' || c == ',' || c == ':':
		return 0, d.malformed("unexpected delimiter")
	}
	if err := d.skipValue(0); err != nil {
		return 0, err
	}
	return 0, nil
}

// closeDelim is the Token that ends an object (want '}') or array (want ']'); More said nothing follows.
func (d *mplDecoder) closeDelim(want byte) error {
	c, ok := d.peek()
	if !ok {
		return d.truncated()
	}
	if c != want {
		return d.malformed("mismatched delimiter")
	}
	d.pos++
	return nil
}

// memberKey is the Token of an object key, after a ',' when one member was read already. It returns the
// raw key; keys with escapes are unquoted into the arena.
func (d *mplDecoder) memberKey(first *bool) ([]byte, error) {
	c := d.buf[d.pos] // more() stopped on it
	if !*first {
		if c != ',' {
			return nil, d.malformed("expected comma after object member")
		}
		d.pos++
		var ok bool
		if c, ok = d.peek(); !ok {
			return nil, d.truncated()
		}
	}
	if c != '"' {
		return nil, d.malformed("expected an object key")
	}
	*first = false
	start := d.pos
	plain, err := d.skipString()
	if err != nil {
		return nil, err
	}
	raw := d.buf[start+1 : d.pos-1]
	if plain {
		return raw, nil
	}
	d.arena = appendUnquoted(d.arena[:0], raw)
	return d.arena, nil
}

// colon consumes the ':' after a key.
func (d *mplDecoder) colon() error {
	c, ok := d.peek()
	if !ok {
		return d.truncated()
	}
	if c != ':' {
		return d.malformed("expected colon after object key")
	}
	d.pos++
	return nil
}

// skipMember is json.Decoder.Decode into a RawMessage after a key: colon, then one whole value.
func (d *mplDecoder) skipMember() error {
	_, err := d.memberValue()
	return err
}

// memberValue reads the colon and one whole value after a key and returns the value's bytes.
func (d *mplDecoder) memberValue() ([]byte, error) {
	if err := d.colon(); err != nil {
		return nil, err
	}
	if _, ok := d.peek(); !ok {
		return nil, d.truncated()
	}
	start := d.pos
	if err := d.skipValue(0); err != nil {
		return nil, err
	}
	return d.buf[start:d.pos], nil
}

// results reads array elements as entries until the closing bracket, which it consumes.
func (d *mplDecoder) results() error {
	first := true
	for d.more() {
		if !first {
			if d.buf[d.pos] != ',' {
				return d.malformed("expected comma after array element")
			}
			d.pos++
		}
		first = false
		d.compact()
		if err := d.entry(); err != nil {
			return err
		}
	}
	return d.closeDelim(']')
}

// entry decodes one array element into a new entry of the page.
func (d *mplDecoder) entry() error {
	c, ok := d.peek()
	if !ok {
		return d.truncated()
	}
	start := d.pos
	d.scratch = append(d.scratch, MessageProcessingLog{})
	v := &d.scratch[len(d.scratch)-1]
	if c == '{' {
		fast, err := d.mpl(v)
		if err != nil {
			return err
		}
		if fast {
			d.commitStrings(v)
			return nil
		}
		// Something this parser does not take on its own: read the whole element (its syntax errors
		// come first, as with encoding/json), then let encoding/json decode it.
		d.pos = start
	}
	if err := d.skipValue(0); err != nil {
		return err
	}
	*v = MessageProcessingLog{}
	if err := json.Unmarshal(d.buf[start:d.pos], v); err != nil {
		return wrapJSON(err)
	}
	return nil
}

// commitStrings gives the entry's strings their values: one allocation for all of them.
func (d *mplDecoder) commitStrings(v *MessageProcessingLog) {
	s := string(d.arena)
	for _, f := range d.fix {
		*f.dst = s[f.start:f.end]
	}
	// The properties are addressed by index: their slice moved while it grew.
	for _, f := range d.propFix {
		p := &v.CustomHeaderProperties[f.index]
		if f.value {
			p.Value = s[f.start:f.end]
		} else {
			p.Name = s[f.start:f.end]
		}
	}
	d.fix = d.fix[:0]
	d.propFix = d.propFix[:0]
	d.arena = d.arena[:0]
}

// mplField numbers the members of a MessageProcessingLog.
type mplField uint8

const (
	fUnknown mplField = iota
	fMessageGuid
	fCorrelationId
	fApplicationMessageId
	fApplicationMessageType
	fLogStart
	fLogEnd
	fSender
	fReceiver
	fIntegrationFlowName
	fStatus
	fAlternateWebLink
	fIntegrationArtifact
	fLogLevel
	fCustomStatus
	fArchivingStatus
	fArchivingSenderChannelMessages
	fArchivingReceiverChannelMessages
	fArchivingLogAttachments
	fArchivingPersistedMessages
	fTransactionId
	fPreviousComponentName
	fLocalComponentName
	fOriginComponentName
	fCustomHeaderProperties
)

// mplFieldNames are the keys encoding/json would match, case-insensitively, to a field.
var mplFieldNames = []string{
	"MessageGuid", "CorrelationId", "ApplicationMessageId", "ApplicationMessageType", "LogStart", "LogEnd",
	"Sender", "Receiver", "IntegrationFlowName", "Status", "AlternateWebLink", "IntegrationArtifact",
	"LogLevel", "CustomStatus", "ArchivingStatus", "ArchivingSenderChannelMessages",
	"ArchivingReceiverChannelMessages", "ArchivingLogAttachments", "ArchivingPersistedMessages",
	"TransactionId", "PreviousComponentName", "LocalComponentName", "OriginComponentName",
	"CustomHeaderProperties",
}

var artifactFieldNames = []string{"Id", "Name", "Type", "PackageId", "PackageName"}

var propertyFieldNames = []string{"Name", "Value"}

func lookupMPLField(key []byte) mplField {
	switch string(key) {
	case "MessageGuid":
		return fMessageGuid
	case "CorrelationId":
		return fCorrelationId
	case "ApplicationMessageId":
		return fApplicationMessageId
	case "ApplicationMessageType":
		return fApplicationMessageType
	case "LogStart":
		return fLogStart
	case "LogEnd":
		return fLogEnd
	case "Sender":
		return fSender
	case "Receiver":
		return fReceiver
	case "IntegrationFlowName":
		return fIntegrationFlowName
	case "Status":
		return fStatus
	case "AlternateWebLink":
		return fAlternateWebLink
	case "IntegrationArtifact":
		return fIntegrationArtifact
	case "LogLevel":
		return fLogLevel
	case "CustomStatus":
		return fCustomStatus
	case "ArchivingStatus":
		return fArchivingStatus
	case "ArchivingSenderChannelMessages":
		return fArchivingSenderChannelMessages
	case "ArchivingReceiverChannelMessages":
		return fArchivingReceiverChannelMessages
	case "ArchivingLogAttachments":
		return fArchivingLogAttachments
	case "ArchivingPersistedMessages":
		return fArchivingPersistedMessages
	case "TransactionId":
		return fTransactionId
	case "PreviousComponentName":
		return fPreviousComponentName
	case "LocalComponentName":
		return fLocalComponentName
	case "OriginComponentName":
		return fOriginComponentName
	case "CustomHeaderProperties":
		return fCustomHeaderProperties
	}
	return fUnknown
}

// foldsTo reports whether encoding/json would match key to one of names although it is not spelled
// exactly so (it matches case-insensitively). OData's own members (__metadata, __deferred) never do.
func foldsTo(key []byte, names []string) bool {
	if len(key) >= 2 && key[0] == '_' && key[1] == '_' {
		return false
	}
	for _, n := range names {
		if bytes.EqualFold(key, []byte(n)) {
			return true
		}
	}
	return false
}

// objectMember is the start of one member of an object the fast path reads: it consumes the key and the
// colon and reports the raw key, whether it had to be unquoted, and whether the object ended instead.
func (d *mplDecoder) objectMember(first bool) (key []byte, plain, end bool, err error) {
	c, ok := d.peek()
	if !ok {
		return nil, false, false, d.truncated()
	}
	if first && c == '}' {
		d.pos++
		return nil, false, true, nil
	}
	if !first {
		switch c {
		case '}':
			d.pos++
			return nil, false, true, nil
		case ',':
			d.pos++
			if c, ok = d.peek(); !ok {
				return nil, false, false, d.truncated()
			}
		default:
			return nil, false, false, d.malformed("expected comma or '}' after object member")
		}
	}
	if c != '"' {
		return nil, false, false, d.malformed("expected an object key")
	}
	start := d.pos
	if plain, err = d.skipString(); err != nil {
		return nil, false, false, err
	}
	key = d.buf[start+1 : d.pos-1]
	if err = d.colon(); err != nil {
		return nil, false, false, err
	}
	if _, ok := d.peek(); !ok {
		return nil, false, false, d.truncated()
	}
	return key, plain, false, nil
}

// mpl reads one entry object (d.pos at its '{'). fast is false when the entry must go to encoding/json;
// err is a syntax error or truncation met on the way.
func (d *mplDecoder) mpl(v *MessageProcessingLog) (fast bool, err error) {
	d.pos++
	d.arena = d.arena[:0]
	d.fix = d.fix[:0]
	d.propFix = d.propFix[:0]
	seenProps := false
	for first := true; ; first = false {
		key, plain, end, err := d.objectMember(first)
		if err != nil || end {
			return err == nil, err
		}
		if !plain {
			return false, nil
		}
		f := lookupMPLField(key)
		if f == fCustomHeaderProperties {
			if seenProps {
				// encoding/json decodes a repeated array into the first one's elements: its business.
				return false, nil
			}
			seenProps = true
		}
		var ok bool
		switch f {
		case fUnknown:
			if foldsTo(key, mplFieldNames) {
				return false, nil
			}
			err, ok = d.skipValue(1), true
		case fMessageGuid:
			ok, err = d.stringValue(&v.MessageGuid)
		case fCorrelationId:
			ok, err = d.stringValue(&v.CorrelationId)
		case fApplicationMessageId:
			ok, err = d.stringValue(&v.ApplicationMessageId)
		case fApplicationMessageType:
			ok, err = d.stringValue(&v.ApplicationMessageType)
		case fLogStart:
			ok, err = d.wireValue(&v.LogStart)
		case fLogEnd:
			ok, err = d.wireValue(&v.LogEnd)
		case fSender:
			ok, err = d.stringValue(&v.Sender)
		case fReceiver:
			ok, err = d.stringValue(&v.Receiver)
		case fIntegrationFlowName:
			ok, err = d.stringValue(&v.IntegrationFlowName)
		case fStatus:
			ok, err = d.stringValue(&v.Status)
		case fAlternateWebLink:
			ok, err = d.stringValue(&v.AlternateWebLink)
		case fIntegrationArtifact:
			ok, err = d.artifact(&v.IntegrationArtifact)
		case fLogLevel:
			ok, err = d.stringValue(&v.LogLevel)
		case fCustomStatus:
			ok, err = d.stringValue(&v.CustomStatus)
		case fArchivingStatus:
			ok, err = d.stringValue(&v.ArchivingStatus)
		case fArchivingSenderChannelMessages:
			ok, err = d.wireValue(&v.ArchivingSenderChannelMessages)
		case fArchivingReceiverChannelMessages:
			ok, err = d.wireValue(&v.ArchivingReceiverChannelMessages)
		case fArchivingLogAttachments:
			ok, err = d.wireValue(&v.ArchivingLogAttachments)
		case fArchivingPersistedMessages:
			ok, err = d.wireValue(&v.ArchivingPersistedMessages)
		case fTransactionId:
			ok, err = d.stringValue(&v.TransactionId)
		case fPreviousComponentName:
			ok, err = d.stringValue(&v.PreviousComponentName)
		case fLocalComponentName:
			ok, err = d.stringValue(&v.LocalComponentName)
		case fOriginComponentName:
			ok, err = d.stringValue(&v.OriginComponentName)
		case fCustomHeaderProperties:
			ok, err = d.properties(&v.CustomHeaderProperties)
		}
		if err != nil || !ok {
			return false, err
		}
	}
}

// stringValue reads a string member into the arena (null leaves the field as it is, as encoding/json
// does); anything else is not the fast path's to decode.
func (d *mplDecoder) stringValue(dst *string) (bool, error) {
	switch d.buf[d.pos] {
	case '"':
		start := d.pos
		plain, err := d.skipString()
		if err != nil {
			return false, err
		}
		raw := d.buf[start+1 : d.pos-1]
		at := len(d.arena)
		if plain {
			d.arena = append(d.arena, raw...)
		} else {
			d.arena = appendUnquoted(d.arena, raw)
		}
		d.fix = append(d.fix, fixup{dst: dst, start: at, end: len(d.arena)})
		return true, nil
	case 'n':
		return true, d.literal("null")
	}
	return false, nil
}

// wireValue hands a member's bytes to a wire type's own decoder, as encoding/json does (null included).
func (d *mplDecoder) wireValue(dst json.Unmarshaler) (bool, error) {
	start := d.pos
	if err := d.skipValue(1); err != nil {
		return false, err
	}
	return dst.UnmarshalJSON(d.buf[start:d.pos]) == nil, nil
}

// artifact reads the IntegrationArtifact complex value; null leaves it as it is.
func (d *mplDecoder) artifact(a *IntegrationArtifact) (bool, error) {
	switch d.buf[d.pos] {
	case 'n':
		return true, d.literal("null")
	case '{':
	default:
		return false, nil
	}
	d.pos++
	for first := true; ; first = false {
		key, plain, end, err := d.objectMember(first)
		if err != nil || end {
			return err == nil, err
		}
		if !plain {
			return false, nil
		}
		var dst *string
		switch string(key) {
		case "Id":
			dst = &a.Id
		case "Name":
			dst = &a.Name
		case "Type":
			dst = &a.Type
		case "PackageId":
			dst = &a.PackageId
		case "PackageName":
			dst = &a.PackageName
		default:
			if foldsTo(key, artifactFieldNames) {
				return false, nil
			}
			if err := d.skipValue(2); err != nil {
				return false, err
			}
			continue
		}
		if ok, err := d.stringValue(dst); err != nil || !ok {
			return false, err
		}
	}
}

// properties reads CustomHeaderProperties as Expanded.UnmarshalJSON does: {"results":[…]}, a bare
// array, a {"__deferred":…} stub or null (the last two give none).
func (d *mplDecoder) properties(e *CustomHeaderProperties) (bool, error) {
	switch d.buf[d.pos] {
	case 'n':
		*e = nil
		d.propFix = d.propFix[:0]
		return true, d.literal("null")
	case '[':
		props, ok, err := d.propertyArray(1)
		if ok && err == nil {
			*e = props
		}
		return ok, err
	case '{':
	default:
		return false, nil
	}
	d.pos++
	var results CustomHeaderProperties
	for first := true; ; first = false {
		key, plain, end, err := d.objectMember(first)
		if err != nil {
			return false, err
		}
		if end {
			*e = results
			return true, nil
		}
		if !plain {
			return false, nil
		}
		if string(key) != "results" {
			if foldsTo(key, []string{"results"}) {
				return false, nil
			}
			if err := d.skipValue(2); err != nil {
				return false, err
			}
			continue
		}
		switch d.buf[d.pos] {
		case 'n':
			results = nil
			d.propFix = d.propFix[:0]
			if err := d.literal("null"); err != nil {
				return false, err
			}
		case '[':
			props, ok, err := d.propertyArray(2)
			if err != nil || !ok {
				return false, err
			}
			results = props
		default:
			return false, nil
		}
	}
}

// propertyArray reads [{"Name":…,"Value":…},…]; depth is the nesting entered outside the array.
func (d *mplDecoder) propertyArray(depth int) (CustomHeaderProperties, bool, error) {
	d.pos++
	props := CustomHeaderProperties{}
	// Only the last array read becomes the field: the strings of an earlier one are dropped.
	d.propFix = d.propFix[:0]
	for first := true; ; first = false {
		c, ok := d.peek()
		if !ok {
			return nil, false, d.truncated()
		}
		if c == ']' {
			d.pos++
			break
		}
		if !first {
			if c != ',' {
				return nil, false, d.malformed("expected comma or ']' after array element")
			}
			d.pos++
			if c, ok = d.peek(); !ok {
				return nil, false, d.truncated()
			}
		}
		if c != '{' {
			return nil, false, nil
		}
		d.pos++
		props = append(props, CustomHeaderProperty{})
		idx := len(props) - 1
		for firstKey := true; ; firstKey = false {
			key, plain, end, err := d.objectMember(firstKey)
			if err != nil {
				return nil, false, err
			}
			if end {
				break
			}
			if !plain {
				return nil, false, nil
			}
			var value bool
			switch string(key) {
			case "Name":
			case "Value":
				value = true
			default:
				if foldsTo(key, propertyFieldNames) {
					return nil, false, nil
				}
				if err := d.skipValue(depth + 2); err != nil {
					return nil, false, err
				}
				continue
			}
			switch d.buf[d.pos] {
			case 'n':
				if err := d.literal("null"); err != nil {
					return nil, false, err
				}
			case '"':
				start := d.pos
				plain, err := d.skipString()
				if err != nil {
					return nil, false, err
				}
				raw := d.buf[start+1 : d.pos-1]
				at := len(d.arena)
				if plain {
					d.arena = append(d.arena, raw...)
				} else {
					d.arena = appendUnquoted(d.arena, raw)
				}
				d.propFix = append(d.propFix, propFixup{index: idx, value: value, start: at, end: len(d.arena)})
			default:
				return nil, false, nil
			}
		}
	}
	return props, true, nil
}

// unquoteString turns a raw JSON string (quotes included) into a Go string.
func (d *mplDecoder) unquoteString(raw []byte) string {
	return string(appendUnquoted(nil, raw[1:len(raw)-1]))
}
