package fakecpi

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// The subset of OData V2 $filter that CPI clients use: comparisons (eq ne gt ge lt le) of a property
// with a string or datetime literal, joined by and/or, with parentheses.

type expr interface {
	eval(r record) bool
}

// record is what a filter can look at.
type record interface {
	stringField(name string) (string, bool)
	timeField(name string) (time.Time, bool)
}

type andExpr struct{ l, r expr }
type orExpr struct{ l, r expr }

func (e andExpr) eval(r record) bool { return e.l.eval(r) && e.r.eval(r) }
func (e orExpr) eval(r record) bool  { return e.l.eval(r) || e.r.eval(r) }

type cmpExpr struct {
	field string
	op    string
	str   string
	when  time.Time
	isDT  bool
}

func (c cmpExpr) eval(r record) bool {
	if c.isDT {
		t, ok := r.timeField(c.field)
		if !ok || t.IsZero() {
			return false
		}
		return compare(t.Compare(c.when), c.op)
	}
	s, _ := r.stringField(c.field)
	return compare(strings.Compare(s, c.str), c.op)
}

func compare(cmp int, op string) bool {
	switch op {
	case "eq":
		return cmp == 0
	case "ne":
		return cmp != 0
	case "gt":
		return cmp > 0
	case "ge":
		return cmp >= 0
	case "lt":
		return cmp < 0
	case "le":
		return cmp <= 0
	}
	return false
}

// lowerBound finds a `field ge|gt <datetime>` conjunct at the top level, which lets the server seek.
func lowerBound(e expr, field string) (time.Time, bool) {
	switch x := e.(type) {
	case andExpr:
		l, lok := lowerBound(x.l, field)
		r, rok := lowerBound(x.r, field)
		switch {
		case lok && rok:
			if l.After(r) {
				return l, true
			}
			return r, true
		case lok:
			return l, true
		case rok:
			return r, true
		}
	case cmpExpr:
		if x.isDT && x.field == field && (x.op == "ge" || x.op == "gt") {
			return x.when, true
		}
	}
	return time.Time{}, false
}

type parser struct {
	toks []string
	pos  int
	// fields lists the properties that may be filtered on, with their kind ("s" string, "t" datetime).
	fields map[string]string
}

func parseFilter(s string, fields map[string]string) (expr, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, fields: fields}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("unexpected %q at the end of the filter", p.toks[p.pos])
	}
	return e, nil
}

func (p *parser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *parser) next() string {
	t := p.peek()
	p.pos++
	return t
}

func (p *parser) or() (expr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek() == "or" {
		p.next()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = orExpr{l, r}
	}
	return l, nil
}

func (p *parser) and() (expr, error) {
	l, err := p.primary()
	if err != nil {
		return nil, err
	}
	for p.peek() == "and" {
		p.next()
		r, err := p.primary()
		if err != nil {
			return nil, err
		}
		l = andExpr{l, r}
	}
	return l, nil
}

func (p *parser) primary() (expr, error) {
	if p.peek() == "(" {
		p.next()
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.next() != ")" {
			return nil, fmt.Errorf("missing )")
		}
		return e, nil
	}
	field := p.next()
	kind, ok := p.fields[field]
	if !ok {
		return nil, fmt.Errorf("property %q cannot be filtered on", field)
	}
	op := p.next()
	switch op {
	case "eq", "ne", "gt", "ge", "lt", "le":
	default:
		return nil, fmt.Errorf("unsupported operator %q", op)
	}
	lit := p.next()
	c := cmpExpr{field: field, op: op}
	switch {
	case kind == "t":
		if !strings.HasPrefix(lit, "datetime'") {
			return nil, fmt.Errorf("%s needs a datetime'…' literal, got %q", field, lit)
		}
		v := strings.TrimSuffix(strings.TrimPrefix(lit, "datetime'"), "'")
		// CPI reads these literals as UTC and does not understand a zone suffix; refusing one here
		// catches a client that would be silently shifted on a real tenant.
		var t time.Time
		var err error
		for _, layout := range []string{"2006-01-02T15:04:05.000", "2006-01-02T15:04:05", "2006-01-02T15:04"} {
			if t, err = time.Parse(layout, v); err == nil {
				break
			}
		}
		if err != nil {
			return nil, fmt.Errorf("invalid datetime literal %q (zone suffixes are not supported)", v)
		}
		c.when, c.isDT = t.UTC(), true
	case strings.HasPrefix(lit, "'"):
		c.str = strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(lit, "'"), "'"), "''", "'")
	default:
		return nil, fmt.Errorf("%s needs a string literal, got %q", field, lit)
	}
	return c, nil
}

func tokenize(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ':
			i++
		case c == '(' || c == ')':
			toks = append(toks, string(c))
			i++
		case c == '\'' || strings.HasPrefix(s[i:], "datetime'"):
			start := i
			if c != '\'' {
				i += len("datetime")
			}
			i++ // opening quote
			for {
				if i >= len(s) {
					return nil, fmt.Errorf("unterminated string literal")
				}
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						i += 2
						continue
					}
					i++
					break
				}
				i++
			}
			toks = append(toks, s[start:i])
		default:
			start := i
			for i < len(s) && (unicode.IsLetter(rune(s[i])) || unicode.IsDigit(rune(s[i])) || s[i] == '/' || s[i] == '_' || s[i] == '.') {
				i++
			}
			if start == i {
				return nil, fmt.Errorf("unexpected character %q", s[i])
			}
			toks = append(toks, s[start:i])
		}
	}
	return toks, nil
}

// roundLiterals rounds every datetime literal of e to a whole second, as a tenant that compares at
// second precision does; the empty Rounding leaves them as they are.
func roundLiterals(e expr, r Rounding) expr {
	if r != RoundFloor && r != RoundCeil {
		return e
	}
	switch x := e.(type) {
	case andExpr:
		return andExpr{roundLiterals(x.l, r), roundLiterals(x.r, r)}
	case orExpr:
		return orExpr{roundLiterals(x.l, r), roundLiterals(x.r, r)}
	case cmpExpr:
		if x.isDT {
			x.when = roundSecond(x.when, r)
		}
		return x
	}
	return e
}

func roundSecond(t time.Time, r Rounding) time.Time {
	whole := t.Truncate(time.Second)
	if r == RoundCeil && !whole.Equal(t) {
		return whole.Add(time.Second)
	}
	return whole
}
