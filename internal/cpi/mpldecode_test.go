package cpi

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
)

// outcome is what a decoder's answer means to the client: the page, or the error's class (a truncated
// body is retried, a malformed one is not, anything else is the wire type's own error, kept as it is).
func outcome(p Page[MessageProcessingLog], err error) string {
	switch {
	case err == nil:
		return fmt.Sprintf("ok %#v", p)
	case errors.Is(err, ErrTruncated):
		return "truncated"
	case errors.Is(err, httpapi.ErrMalformed):
		return "malformed"
	}
	return "other: " + err.Error()
}

// sameAnswer decodes doc with DecodeMessagePage and with the encoding/json path and fails on any
// difference.
func sameAnswer(t *testing.T, doc []byte) {
	t.Helper()
	want := outcome(DecodePage[MessageProcessingLog](bytes.NewReader(doc)))
	got := outcome(DecodeMessagePage(bytes.NewReader(doc)))
	if got == want {
		// The body arrives as the network delivers it, in pieces: a byte at a time is the hardest case.
		got = outcome(DecodeMessagePage(iotest.OneByteReader(bytes.NewReader(doc))))
	}
	if got != want {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		from := max(0, i-200)
		t.Fatalf("decoders disagree on %q:\nencoding/json: …%.400s\nfast path:     …%.400s", doc, want[from:], got[from:])
	}
}

// FuzzMessagePageDecoders is the differential fuzz test: `go test -fuzz FuzzMessagePageDecoders
// ./internal/cpi/` mutates generated pages with every tenant quirk and the hand-written edge cases.
func FuzzMessagePageDecoders(f *testing.F) {
	for _, doc := range edgeDocuments {
		f.Add([]byte(doc))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 40 {
		f.Add(quirkyPage(rng, 1+rng.IntN(4)))
	}
	f.Fuzz(func(t *testing.T, doc []byte) { sameAnswer(t, doc) })
}

// The same comparison in every test run, on generated pages, their truncations and random damage.
func TestMessagePageDecoderAgreesWithEncodingJSON(t *testing.T) {
	for _, doc := range edgeDocuments {
		sameAnswer(t, []byte(doc))
	}
	rng := rand.New(rand.NewPCG(7, 11))
	for range 1500 {
		doc := quirkyPage(rng, 1+rng.IntN(5))
		sameAnswer(t, doc)
		for range 6 {
			sameAnswer(t, doc[:rng.IntN(len(doc)+1)])
		}
		for range 10 {
			sameAnswer(t, damage(rng, doc))
		}
	}
}

// A read that fails part-way answers like encoding/json's streaming decoder: a complete (or broken)
// document before the failure decides, otherwise the read error is the answer.
func TestMessagePageDecoderReadErrorLikeAStreamingDecoder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	reset := errors.New("connection reset by peer")
	for range 300 {
		doc := quirkyPage(rng, 2)
		if rng.IntN(3) == 0 {
			doc = append(doc, " trailing"...)
		}
		k := rng.IntN(len(doc) + 1)
		reader := func() io.Reader { return io.MultiReader(bytes.NewReader(doc[:k]), iotestErrReader{reset}) }
		want := outcome(DecodePage[MessageProcessingLog](reader()))
		got := outcome(DecodeMessagePage(reader()))
		require.Equal(t, want, got, "cut at %d of %q", k, doc)
	}
}

type iotestErrReader struct{ err error }

func (r iotestErrReader) Read([]byte) (int, error) { return 0, r.err }

func TestMessagePageDecoderReadsTheSimulatedTenantsPageWithFewAllocations(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var b strings.Builder
	b.WriteString(`{"d":{"results":[`)
	for i := range 1000 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(plainEntry(rng, i))
	}
	b.WriteString(`]}}`)
	doc := []byte(b.String())
	sameAnswer(t, doc) // 1.2 MB: the window moves and grows
	allocs := testing.AllocsPerRun(20, func() {
		page, err := DecodeMessagePage(bytes.NewReader(doc))
		if err != nil || len(page.Results) != 1000 {
			t.Fatal(err)
		}
	})
	// One string block per entry and the page's slice; encoding/json needs about twenty per entry.
	require.Less(t, allocs, 1100.0)
}

// edgeDocuments are the shapes the envelope and the scanner must classify exactly as encoding/json.
var edgeDocuments = []string{
	``, ` `, `{`, `}`, `[`, `[]`, `"d"`, `"d`, `5`, `-`, `1e`, `nul`, `null`, `x`, `{}`, `{,}`, `{"d"`, `{"d" `, `{"d":`,
	`{"d" 5}`, `{"d":5`, `{"d":5}`, `{"d":"x"}`, `{"d":"x`, `{"d":tru`, `{"d":true}`, `{"d":}`, `{"d":,}`, `{"d"::[]}`,
	`{"d":[]}`, `{"d":[]`, `{"d":[],}`, `{"d":[]]`, `{"d":[}`, `{"d":[,]}`, `{"d":[null]}`, `{"d":[5]}`, `{"d":[{}]}`,
	`{"d":[{},]}`, `{"d":[{} {}]}`, `{"d":[{}`, `{"d":[{},`, `{"d":{}}`, `{"d":{}`, `{"d":{"results":{}}}`,
	`{"d":{"results":"x"}}`, `{"d":{"results":[]},"d":{"results":[{}]}}`, `{"d":{"results":[]]}`, `{"d":{]}`,
	`{"x":1}`, `{"x":1`, `{"x":`, `{"x" 1}`, `{"x":1,"d":[]}`, `{"x":[1,2,{"y":[]}],"d":[]}`, `{"\u0064":[]}`,
	`{"d":{"__count":"12","results":[]}}`, `{"d":{"__count":12}}`, `{"d":{"__count":"x"}}`, `{"d":{"__count":{}}}`,
	`{"d":{"__count":null}}`, `{"d":{"__count":12`, `{"d":{"__next":5}}`, `{"d":{"__next":null}}`,
	`{"d":{"__next":"MessageProcessingLogs?$skiptoken=1000","results":[]}}`, `{"d":{"__next":"a\/b\u00e9"}}`,
	`{"d":[]} trailing garbage`, `{"d":[]}{"d":[{}]}`, "\xef\xbb\xbf{\"d\":[]}", "{\"d\":[\"\x01\"]}",
	`{"d":[{"MessageGuid":"a","MessageGuid":null}]}`, `{"d":[{"MessageGuid":5}]}`, `{"d":[{"messageguid":"folded"}]}`,
	`{"d":[{"Message\u0047uid":"escaped key"}]}`, `{"d":[{"LogEnd":"/Date(1700000000000)/"}]}`,
	`{"d":[{"LogEnd":"\/Date(1700000000000)\/"}]}`, `{"d":[{"LogEnd":"/Date(-86400000+0130)/"}]}`,
	`{"d":[{"LogEnd":"2024-01-02T03:04:05.678"}]}`, `{"d":[{"LogEnd":"1700000000000"}]}`, `{"d":[{"LogEnd":1700000000000}]}`,
	`{"d":[{"LogEnd":"bad"}]}`, `{"d":[{"LogEnd":"bad"},{]}`, `{"d":[{"LogEnd":"bad","x":`, `{"d":[{"LogEnd":null}]}`,
	`{"d":[{"ArchivingLogAttachments":"false"}]}`, `{"d":[{"ArchivingLogAttachments":"yes"}]}`,
	`{"d":[{"IntegrationArtifact":null}]}`, `{"d":[{"IntegrationArtifact":{"Id":"a"},"IntegrationArtifact":{"Name":"b"}}]}`,
	`{"d":[{"IntegrationArtifact":[]}]}`, `{"d":[{"IntegrationArtifact":{"id":"folded"}}]}`,
	`{"d":[{"CustomHeaderProperties":{"__deferred":{"uri":"x"}}}]}`, `{"d":[{"CustomHeaderProperties":{"results":[]}}]}`,
	`{"d":[{"CustomHeaderProperties":[]}]}`, `{"d":[{"CustomHeaderProperties":null}]}`, `{"d":[{"CustomHeaderProperties":{"results":null}}]}`,
	`{"d":[{"CustomHeaderProperties":[{"Name":"a","Value":"b"}],"CustomHeaderProperties":[{"Name":"c"}]}]}`,
	`{"d":[{"CustomHeaderProperties":{"Results":[{"Name":"a"}]}}]}`, `{"d":[{"CustomHeaderProperties":[null,{"name":"x"}]}]}`,
	`{"d":[{"CustomHeaderProperties":"x"}]}`, `{"d":[{"CustomHeaderProperties":[{"Name":1}]}]}`,
	`{"d":[{"Status":"caf\u00e9 \ud83d\ude00 \ud800 \udc00x \u0000 \"q\" \\ \/"}]}`, "{\"d\":[{\"Status\":\"\xff\xfe ok \xc3\xa9\"}]}",
	`{"d":[{"Status":"\x"}]}`, `{"d":[{"Status":"\u12"}]}`, `{"d":[{"Status":"\u12g4"}]}`, `{"d":[{"Status":"a\`,
	`{"d":[{"x":01}]}`, `{"d":[{"x":1.}]}`, `{"d":[{"x":1.5e+}]}`, `{"d":[{"x":-0.5E-3}]}`, `{"d":[{"x":-}]}`, `{"d":[{"x":1.5e`,
	`{"d":[{"x":[1,]}]}`, `{"d":[{"x":{"a":1,}}]}`, `{"d":[{"x":{"a"}}]}`, `{"d":[{"x":tRue}]}`,
	`{"d":[` + strings.Repeat("[", 10001) + `]}`, `{"d":[{"x":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}]}`,
	`{"d":[{"x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}]}`,
	`{"d":[{"CustomHeaderProperties":{"results":[{"x":` + strings.Repeat("[", 9996) + strings.Repeat("]", 9996) + `}]}}]}`,
	`{"d":[{"CustomHeaderProperties":{"results":[{"x":` + strings.Repeat("[", 9997) + strings.Repeat("]", 9997) + `}]}}]}`,
	`{"x":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `,"d":[]}`,
}

// quirkyPage writes a page of n entries the way a tenant, a sandbox or a hand-written example might: every
// wire quirk the wire types accept, and now and then a value they refuse.
func quirkyPage(rng *rand.Rand, n int) []byte {
	var b strings.Builder
	ws := func() {
		b.WriteString([]string{"", "", "", " ", "\n  ", "\t", "\r\n"}[rng.IntN(7)])
	}
	entries := func() {
		b.WriteByte('[')
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			ws()
			switch rng.IntN(60) {
			case 0:
				b.WriteString("null")
			case 1:
				b.WriteString("5")
			default:
				b.WriteString(quirkyEntry(rng))
			}
			ws()
		}
		b.WriteByte(']')
	}
	b.WriteByte('{')
	ws()
	if rng.IntN(10) == 0 {
		b.WriteString(`"error":null,`)
	}
	b.WriteString(`"d":`)
	ws()
	if rng.IntN(6) == 0 {
		entries() // the OData V1-style {"d":[…]}
	} else {
		b.WriteByte('{')
		members := []func(){
			func() { b.WriteString(`"results":`); ws(); entries() },
			func() {
				b.WriteString(`"__next":`)
				b.WriteString(jsonString(rng, "MessageProcessingLogs?$skiptoken=1000&$filter=LogEnd ge datetime'2024-01-01T00:00:00'"))
			},
			func() {
				b.WriteString(`"__count":`)
				b.WriteString([]string{`"1234"`, `1234`, `"0"`, `null`, `"x"`}[rng.IntN(5)])
			},
		}
		rng.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
		keep := 1 + rng.IntN(3)
		for i, m := range members[:keep] {
			if i > 0 {
				b.WriteByte(',')
				ws()
			}
			m()
		}
		b.WriteByte('}')
	}
	ws()
	b.WriteByte('}')
	return []byte(b.String())
}

func quirkyEntry(rng *rand.Rand) string {
	type member struct{ key, value string }
	str := func(s string) string {
		switch rng.IntN(25) {
		case 0:
			return "null"
		case 1:
			return `""`
		case 2:
			return "42" // a number where a string belongs: encoding/json's type error
		}
		return jsonString(rng, s)
	}
	date := func() string {
		ms := 1_700_000_000_000 + rng.Int64N(1_000_000_000)
		forms := []string{
			`"/Date(` + strconv.FormatInt(ms, 10) + `)/"`,
			`"/Date(` + strconv.FormatInt(ms, 10) + `)/"`,
			`"/Date(` + strconv.FormatInt(ms, 10) + `+0000)/"`,
			`"/Date(` + strconv.FormatInt(ms, 10) + `-0130)/"`,
			`"/Date(-` + strconv.FormatInt(rng.Int64N(1e12), 10) + `)/"`,
			`"2024-03-0` + strconv.Itoa(1+rng.IntN(9)) + `T10:11:12"`,
			`"2024-03-01T10:11:12.345Z"`,
			`"2024-03-01T10:11:12+02:00"`,
			`"` + strconv.FormatInt(ms, 10) + `"`,
			`null`, `""`,
			`"\/Date(` + strconv.FormatInt(ms, 10) + `)\/"`,
			`"/Date(12x)/"`, `"soon"`, strconv.FormatInt(ms, 10), `{"ms":1}`,
		}
		if rng.IntN(3) > 0 {
			return forms[0]
		}
		return forms[rng.IntN(len(forms))]
	}
	boolean := func() string {
		return []string{"true", "false", `"true"`, `"false"`, `"1"`, `"0"`, "null", `"maybe"`, "1"}[rng.IntN(9)]
	}
	guid := "AGd" + strconv.FormatUint(rng.Uint64(), 36)
	members := []member{
		{"__metadata", `{"id":` + jsonString(rng, "https://tenant/api/v1/MessageProcessingLogs('"+guid+"')") + `,"uri":"x","type":"com.sap.hci.api.MessageProcessingLog"}`},
		{"MessageGuid", str(guid)},
		{"CorrelationId", str("AGc" + guid)},
		{"ApplicationMessageId", str("PO-4500012345")},
		{"ApplicationMessageType", str("PurchaseOrder")},
		{"LogStart", date()},
		{"LogEnd", date()},
		{"Sender", str("S4H_100")},
		{"Receiver", str("ARIBA")},
		{"IntegrationFlowName", str("Replicate_PO")},
		{"Status", str([]string{"COMPLETED", "FAILED", "RETRY", "caf\u00e9 \"quoted\" back\\slash / \U0001F600"}[rng.IntN(4)])},
		{"AlternateWebLink", str("https://tenant/itspaces/shell/monitoring/MessageDetails/%7B%22messageGuid%22%7D")},
		{"IntegrationArtifact", artifact(rng, str)},
		{"LogLevel", str("INFO")},
		{"CustomStatus", str("COMPLETED")},
		{"ArchivingStatus", str("NOT_RELEVANT")},
		{"ArchivingSenderChannelMessages", boolean()},
		{"ArchivingReceiverChannelMessages", boolean()},
		{"ArchivingLogAttachments", boolean()},
		{"ArchivingPersistedMessages", boolean()},
		{"TransactionId", str("0123456789abcdef0123456789abcdef")},
		{"PreviousComponentName", str("CPI_sim")},
		{"LocalComponentName", str("CPI_sim")},
		{"OriginComponentName", str("CPI_sim")},
		{"CustomHeaderProperties", properties(rng, str)},
		{"MessageStoreEntries", `{"__deferred":{"uri":"https://tenant/api/v1/MessageProcessingLogs('x')/MessageStoreEntries"}}`},
		{"UnknownNumber", []string{"1.5e3", "-0", "0.25", "123456789012345678901234567890"}[rng.IntN(4)]},
		{"UnknownNested", `{"a":[1,true,false,null,{"b":"c"}],"e":{}}`},
	}
	// A real page carries most members; a hand-written one leaves some out, repeats or reorders them.
	out := members[:0:0]
	for _, m := range members {
		if rng.IntN(8) > 0 {
			out = append(out, m)
		}
	}
	if rng.IntN(4) == 0 {
		rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	}
	if rng.IntN(10) == 0 && len(out) > 0 {
		m := out[rng.IntN(len(out))]
		out = append(out, member{m.key, str("repeated")})
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, m := range out {
		if i > 0 {
			b.WriteByte(',')
		}
		key := m.key
		switch rng.IntN(80) {
		case 0:
			key = strings.ToLower(key) // encoding/json matches keys case-insensitively
		case 1:
			key = strings.Replace(key, "e", `\u0065`, 1)
		}
		b.WriteString(`"` + key + `"`)
		b.WriteString([]string{":", ":", " : ", ":\n"}[rng.IntN(4)])
		b.WriteString(m.value)
	}
	b.WriteByte('}')
	return b.String()
}

func artifact(rng *rand.Rand, str func(string) string) string {
	switch rng.IntN(12) {
	case 0:
		return "null"
	case 1:
		return `"IFlow"`
	}
	return `{"__metadata":{"type":"com.sap.hci.api.IntegrationArtifact"},"Id":` + str("Replicate_PO") +
		`,"Name":` + str("Replicate PO") + `,"Type":` + str("INTEGRATION_FLOW") +
		`,"PackageId":` + str("Acme") + `,"PackageName":` + str("Acme Integrations") + `}`
}

func properties(rng *rand.Rand, str func(string) string) string {
	list := func() string {
		var b strings.Builder
		b.WriteByte('[')
		for i := range rng.IntN(4) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"__metadata":{"type":"com.sap.hci.api.MessageProcessingLogCustomHeaderProperty"},"Id":"` +
				strconv.Itoa(1000+i) + `","Name":` + str("po_number") + `,"Value":` + str("4500012345") + `}`)
		}
		b.WriteByte(']')
		return b.String()
	}
	switch rng.IntN(6) {
	case 0:
		return `{"__deferred":{"uri":"https://tenant/api/v1/MessageProcessingLogs('x')/CustomHeaderProperties"}}`
	case 1:
		return list() // a bare array, as some tenants write an expanded navigation
	case 2:
		return "null"
	}
	return `{"results":` + list() + `}`
}

// jsonString writes s as a JSON string, escaping what must be escaped and, at random, what may be.
func jsonString(rng *rand.Rand, s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '/' && rng.IntN(3) == 0:
			b.WriteString(`\/`)
		case r >= utf8.RuneSelf && rng.IntN(2) == 0:
			for _, u := range utf16Units(r) {
				fmt.Fprintf(&b, `\u%04x`, u)
			}
		case r < utf8.RuneSelf && rng.IntN(40) == 0:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func utf16Units(r rune) []rune {
	if r < 0x10000 {
		return []rune{r}
	}
	r -= 0x10000
	return []rune{0xd800 + (r >> 10), 0xdc00 + (r & 0x3ff)}
}

// damage changes, drops or inserts a few bytes at random.
func damage(rng *rand.Rand, doc []byte) []byte {
	out := append([]byte(nil), doc...)
	const alphabet = "{}[]\":,\\ \tnull0123456789-+.eEtrufas/u\x00\x1f\xff\xc3"
	for range 1 + rng.IntN(3) {
		if len(out) == 0 {
			break
		}
		i := rng.IntN(len(out))
		c := alphabet[rng.IntN(len(alphabet))]
		switch rng.IntN(3) {
		case 0:
			out[i] = c
		case 1:
			out = append(out[:i], out[i+1:]...)
		default:
			out = append(out[:i], append([]byte{c}, out[i:]...)...)
		}
	}
	return out
}

// plainEntry is an entry as the simulated tenant writes it for the receiver's $select.
func plainEntry(rng *rand.Rand, i int) string {
	guid := "AGd" + strconv.FormatUint(rng.Uint64(), 36)
	ms := strconv.FormatInt(1_700_000_000_000+int64(i)*1000, 10)
	return `{"__metadata":{"id":"http://127.0.0.1/api/v1/MessageProcessingLogs('` + guid + `')","uri":"http://127.0.0.1/api/v1/MessageProcessingLogs('` + guid + `')","type":"com.sap.hci.api.MessageProcessingLog"},` +
		`"MessageGuid":"` + guid + `","CorrelationId":"AGc` + guid + `","ApplicationMessageId":null,"ApplicationMessageType":null,` +
		`"LogStart":"/Date(` + ms + `)/","LogEnd":"/Date(` + ms + `)/","Sender":"S4H_100","Receiver":"ARIBA",` +
		`"IntegrationFlowName":"Replicate_PO","Status":"COMPLETED","AlternateWebLink":"http://127.0.0.1/itspaces/shell/monitoring/MessageDetails/%7B%22messageGuid%22%3A%22` + guid + `%22%7D",` +
		`"IntegrationArtifact":{"__metadata":{"type":"com.sap.hci.api.IntegrationArtifact"},"Id":"Replicate_PO","Name":"Replicate PO","Type":"INTEGRATION_FLOW","PackageId":"Acme","PackageName":"Acme Integrations"},` +
		`"LogLevel":"INFO","CustomStatus":"COMPLETED","ArchivingStatus":"NOT_RELEVANT","TransactionId":"0123456789abcdef",` +
		`"PreviousComponentName":"CPI_sim","LocalComponentName":"CPI_sim","OriginComponentName":"CPI_sim"}`
}

func TestHasSpecialByteFindsEveryByteThatEndsAStringRun(t *testing.T) {
	for c := range 256 {
		special := c < 0x20 || c == '"' || c == '\\' || c >= 0x80
		for pos := range 8 {
			word := []byte("abcdefgh")
			word[pos] = byte(c)
			require.Equal(t, special, hasSpecialByte(binary.LittleEndian.Uint64(word)), "byte %#x at %d", c, pos)
		}
	}
}
