package cpi

import "strings"

// keyPart is one property of an entity key; Name is empty for an entity set's single key.
type keyPart struct{ Name, Value string }

// keyPredicate renders the key predicate of an entity path: ('v') for a single key, (A='x',B='y') for
// named ones, every value an OData string literal with ' doubled.
//
// The quotes, parentheses, = and , go out literally, as SAP's documentation and public clients write
// them: some tenants match key predicates on the raw path and answer 404 to %27. Only what would
// change the path's meaning or is not allowed in it is percent-escaped (see pathLiteral). Go's url
// package keeps this spelling on the wire: the escaped form is valid, so it becomes the URL's RawPath.
func keyPredicate(parts ...keyPart) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(',')
		}
		if p.Name != "" {
			b.WriteString(pathLiteral(p.Name))
			b.WriteByte('=')
		}
		b.WriteString(pathLiteral(literal(p.Value)))
	}
	b.WriteByte(')')
	return b.String()
}

// pathLiteral percent-escapes the bytes that may not stand literally in a path segment: everything but
// RFC 3986's unreserved characters, the sub-delimiters and : and @. The one sub-delimiter escaped is
// ';', which Java servlet containers cut off as a path parameter. Non-ASCII text is escaped as UTF-8.
func pathLiteral(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if literalInPath(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	return b.String()
}

func literalInPath(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '~', // unreserved
		'!', '$', '&', '\'', '(', ')', '*', '+', ',', '=', // sub-delimiters but ';'
		':', '@':
		return true
	}
	return false
}
