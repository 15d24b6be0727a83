package cpi

import (
	"encoding/binary"
	"unicode/utf16"
	"unicode/utf8"
)

// The scanner: JSON syntax exactly as encoding/json checks it (RFC 8259; control characters refused in
// strings, invalid UTF-8 accepted; at most maxDepth nested arrays and objects per decoded value). A body
// that ends where the grammar still needs more is truncated; anything else that breaks it is malformed.

// maxDepth is encoding/json's nesting limit, counted from the value a Decode call starts at.
const maxDepth = 10000

// skipValue checks one whole value at d.pos (after whitespace); depth is the nesting already entered
// within the value encoding/json would be decoding.
func (d *mplDecoder) skipValue(depth int) error {
	c, ok := d.peek()
	if !ok {
		return d.truncated()
	}
	switch {
	case c == '{':
		if depth+1 > maxDepth {
			return d.malformed("exceeded max depth")
		}
		d.pos++
		for first := true; ; first = false {
			_, _, end, err := d.objectMember(first)
			if err != nil {
				return err
			}
			if end {
				return nil
			}
			if err := d.skipValue(depth + 1); err != nil {
				return err
			}
		}
	case c == '[':
		if depth+1 > maxDepth {
			return d.malformed("exceeded max depth")
		}
		d.pos++
		for first := true; ; first = false {
			c, ok := d.peek()
			if !ok {
				return d.truncated()
			}
			if c == ']' && first {
				d.pos++
				return nil
			}
			if !first {
				switch c {
				case ']':
					d.pos++
					return nil
				case ',':
					d.pos++
				default:
					return d.malformed("expected comma or ']' after array element")
				}
			}
			if err := d.skipValue(depth + 1); err != nil {
				return err
			}
		}
	case c == '"':
		_, err := d.skipString()
		return err
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	case c == '-' || ('0' <= c && c <= '9'):
		return d.number()
	}
	return d.malformed("invalid character looking for beginning of value")
}

// skipString checks the string at d.pos (its opening quote) and moves past its closing quote. plain means
// no escapes and only ASCII: the bytes are the value.
func (d *mplDecoder) skipString() (plain bool, err error) {
	i := d.pos + 1
	plain = true
	for {
		// The common run: printable ASCII without quote or backslash, eight bytes at a time.
		b := d.buf
		for i+8 <= len(b) && !hasSpecialByte(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		for i < len(b) {
			c := b[i]
			if c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
				break
			}
			i++
		}
		c, ok := d.byteAt(i)
		if !ok {
			d.pos = i
			return false, d.truncated()
		}
		switch {
		case c == '"':
			d.pos = i + 1
			return plain, nil
		case c == '\\':
			plain = false
			e, ok := d.byteAt(i + 1)
			if !ok {
				d.pos = i + 1
				return false, d.truncated()
			}
			switch e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				i += 2
				for range 4 {
					h, ok := d.byteAt(i)
					if !ok {
						d.pos = i
						return false, d.truncated()
					}
					if !isHex(h) {
						d.pos = i
						return false, d.malformed("invalid character in \\u escape")
					}
					i++
				}
			default:
				d.pos = i + 1
				return false, d.malformed("invalid escape in string")
			}
		case c < 0x20:
			d.pos = i
			return false, d.malformed("invalid character in string literal")
		default:
			// Not ASCII (encoding/json coerces it to valid UTF-8), or the run went on past the window.
			if c >= 0x80 {
				plain = false
			}
			i++
		}
	}
}

// hasSpecialByte reports whether one of the eight bytes in x ends the common run of a string: a quote, a
// backslash, a control character or a byte outside ASCII. (Each test is the usual "some byte is zero" or
// "some byte is below n" bit trick; a borrow can only flag a byte above one that is flagged rightly, and
// the caller looks at the bytes one by one then.)
func hasSpecialByte(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote := x ^ (ones * '"')
	backslash := x ^ (ones * '\\')
	control := (x - ones*0x20) &^ x
	return ((quote-ones)&^quote|(backslash-ones)&^backslash|control|x)&highs != 0
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// literal checks true, false or null at d.pos.
func (d *mplDecoder) literal(word string) error {
	for i := 0; i < len(word); i++ {
		c, ok := d.byteAt(d.pos)
		if !ok {
			return d.truncated()
		}
		if c != word[i] {
			return d.malformed("invalid character in literal " + word)
		}
		d.pos++
	}
	return nil
}

// number checks -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at d.pos. A number may end the body only
// where it is complete.
func (d *mplDecoder) number() error {
	i := d.pos
	at := func() byte { // the byte at i, or 0 past the end of the body
		c, _ := d.byteAt(i)
		return c
	}
	digits := func() int {
		n := 0
		for c := at(); '0' <= c && c <= '9'; c = at() {
			i++
			n++
		}
		return n
	}
	fail := func() error {
		d.pos = i
		if _, ok := d.byteAt(i); !ok {
			return d.truncated()
		}
		return d.malformed("invalid character in numeric literal")
	}
	if at() == '-' {
		i++
	}
	switch c := at(); {
	case c == '0':
		i++
	case '1' <= c && c <= '9':
		digits()
	default:
		return fail()
	}
	if at() == '.' {
		i++
		if digits() == 0 {
			return fail()
		}
	}
	if c := at(); c == 'e' || c == 'E' {
		i++
		if c := at(); c == '+' || c == '-' {
			i++
		}
		if digits() == 0 {
			return fail()
		}
	}
	d.pos = i
	return nil
}

// appendUnquoted appends the value of a JSON string's inside (already checked by skipString) the way
// encoding/json unquotes it: escapes resolved, a lone or broken surrogate and every byte of invalid
// UTF-8 replaced by U+FFFD.
func appendUnquoted(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			switch s[i+1] {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := hex4(s[i+2 : i+6])
				i += 6
				if utf16.IsSurrogate(r) {
					if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
						if pair := utf16.DecodeRune(r, hex4(s[i+2:i+6])); pair != utf8.RuneError {
							dst = utf8.AppendRune(dst, pair)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default: // " \ /
				dst = append(dst, s[i+1])
			}
			i += 2
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			dst = utf8.AppendRune(dst, r)
			i += size
		}
	}
	return dst
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}
