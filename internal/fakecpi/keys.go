package fakecpi

import (
	"strings"
)

// keyedPath is a request path of the form Set(<key predicate>)<rest>, relative to the service root.
type keyedPath struct {
	set string
	// key is the value of a single unnamed key, as in MessageProcessingLogs('AG…').
	key string
	// named holds Name=value pairs, as in LogFiles(Name='…',Application='…'); nil for a single key.
	named map[string]string
	rest  string // what follows the closing parenthesis, decoded, e.g. "/ErrorInformation/$value"
}

// single returns the value of a one-property key, named or not.
func (k keyedPath) single() (string, bool) {
	if k.named == nil {
		return k.key, true
	}
	if len(k.named) == 1 {
		for _, v := range k.named {
			return v, true
		}
	}
	return "", false
}

// wireByte is one byte of a path as it arrived, with whether it was percent-encoded.
type wireByte struct {
	c       byte
	encoded bool
}

// decodeWire undoes percent-encoding but remembers which bytes were encoded: a tenant that matches its
// key predicates on the raw path sees %27 as data, not as a quote.
func decodeWire(raw string) ([]wireByte, bool) {
	out := make([]wireByte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		if raw[i] != '%' {
			out = append(out, wireByte{c: raw[i]})
			continue
		}
		if i+2 >= len(raw) {
			return nil, false
		}
		hi, ok1 := unhex(raw[i+1])
		lo, ok2 := unhex(raw[i+2])
		if !ok1 || !ok2 {
			return nil, false
		}
		out = append(out, wireByte{c: hi<<4 | lo, encoded: true})
		i += 2
	}
	return out, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// parseKeyedPath reads Set(<predicate>)<rest> from the escaped path (r.URL.EscapedPath() without the
// service root). String literals are quoted with ' and a quote inside is doubled. When literalQuotes is
// set, only a literal ' delimits a string, as on tenants that match the raw path; a %27 is then an
// ordinary character and the predicate does not parse. ok is false when the path has no key predicate
// or the predicate is malformed, which the caller answers with 404.
func parseKeyedPath(escaped string, literalQuotes bool) (kp keyedPath, ok bool) {
	in, ok := decodeWire(escaped)
	if !ok {
		return kp, false
	}
	isQuote := func(b wireByte) bool { return b.c == '\'' && (!b.encoded || !literalQuotes) }
	i := 0
	var set strings.Builder
	for ; i < len(in) && in[i].c != '('; i++ {
		if in[i].c == '/' {
			return kp, false // a key predicate belongs to the first segment
		}
		set.WriteByte(in[i].c)
	}
	if i == len(in) || set.Len() == 0 {
		return kp, false
	}
	kp.set = set.String()
	i++ // (
	// readValue reads a quoted literal or a bare token (a number such as ChildCount=3).
	readValue := func() (string, bool) {
		var v strings.Builder
		if i < len(in) && isQuote(in[i]) {
			i++
			for {
				if i >= len(in) {
					return "", false
				}
				if isQuote(in[i]) {
					if i+1 < len(in) && isQuote(in[i+1]) {
						v.WriteByte('\'')
						i += 2
						continue
					}
					i++
					return v.String(), true
				}
				v.WriteByte(in[i].c)
				i++
			}
		}
		for i < len(in) && in[i].c != ',' && in[i].c != ')' && in[i].c != '=' {
			if in[i].c == '\'' {
				return "", false // an encoded quote where only a literal one would do
			}
			v.WriteByte(in[i].c)
			i++
		}
		return v.String(), v.Len() > 0
	}
	for {
		first, ok := readValue()
		if !ok || i >= len(in) {
			return kp, false
		}
		switch in[i].c {
		case ')':
			if kp.named != nil {
				return kp, false // Name='a',b mixes the two forms
			}
			kp.key = first
		case '=':
			i++
			val, ok := readValue()
			if !ok || i >= len(in) || (in[i].c != ',' && in[i].c != ')') {
				return kp, false
			}
			if kp.named == nil {
				kp.named = map[string]string{}
			}
			kp.named[first] = val
		default:
			return kp, false
		}
		if in[i].c == ')' {
			break
		}
		i++ // ,
	}
	i++ // )
	var rest strings.Builder
	for ; i < len(in); i++ {
		rest.WriteByte(in[i].c)
	}
	kp.rest = rest.String()
	return kp, true
}
