package push

import (
	"fmt"
	"strings"
	"time"
)

// DefaultDateFormat is the destination property DateFormat's default, a Java date pattern.
const DefaultDateFormat = "yyyy-MM-dd HH:mm:ss.SSS"

// DateFormat is a Java date pattern (the destination property DateFormat) turned into Go layouts.
//
// Only the pattern letters an MPL timestamp needs are understood: y M d H h m s S a, and X Z for a zone;
// text in single quotes and any non-letter is literal (two single quotes make one). SAP does not document the zone
// of the formatted text, so a text without a zone is read as UTC.
type DateFormat struct {
	pattern string
	// format writes the fraction of a second the pattern asks for; parse leaves it out, because Go
	// accepts any fraction after the seconds when the layout names none, and a tenant that trims
	// trailing zeros ("…:05.1") must still be understood.
	format, parse string
}

// ParseDateFormat converts a Java date pattern; empty means DefaultDateFormat.
func ParseDateFormat(pattern string) (DateFormat, error) {
	if pattern == "" {
		pattern = DefaultDateFormat
	}
	var format, parse strings.Builder
	for i := 0; i < len(pattern); {
		c := pattern[i]
		if c == '\'' {
			lit, next, err := quoted(pattern, i)
			if err != nil {
				return DateFormat{}, err
			}
			if err := literalFits(lit); err != nil {
				return DateFormat{}, err
			}
			format.WriteString(lit)
			parse.WriteString(lit)
			i = next
			continue
		}
		if !isLetter(c) {
			if err := literalFits(string(c)); err != nil {
				return DateFormat{}, err
			}
			// A separator directly before a fraction belongs to the fraction (see parse above).
			if (c == '.' || c == ',') && i+1 < len(pattern) && pattern[i+1] == 'S' {
				if i == 0 || pattern[i-1] != 's' {
					return DateFormat{}, fmt.Errorf("DateFormat %q: fractions of a second (S) must follow the seconds (ss)", pattern)
				}
				n := run(pattern, i+1)
				format.WriteByte(c)
				format.WriteString(strings.Repeat("0", n))
				i += 1 + n
				continue
			}
			format.WriteByte(c)
			parse.WriteByte(c)
			i++
			continue
		}
		n := run(pattern, i)
		layout, err := letterLayout(c, n)
		if err != nil {
			return DateFormat{}, fmt.Errorf("DateFormat %q: %w", pattern, err)
		}
		format.WriteString(layout)
		parse.WriteString(layout)
		i += n
	}
	return DateFormat{pattern: pattern, format: format.String(), parse: parse.String()}, nil
}

// String is the Java pattern.
func (f DateFormat) String() string { return f.pattern }

// Format writes t in UTC.
func (f DateFormat) Format(t time.Time) string {
	f = f.orDefault()
	return t.UTC().Format(f.format)
}

// Parse reads a text written with this pattern; the result is UTC.
func (f DateFormat) Parse(s string) (time.Time, error) {
	f = f.orDefault()
	t, err := time.Parse(f.parse, s)
	if err != nil {
		// time.ParseError quotes the input; callers name the field instead.
		return time.Time{}, fmt.Errorf("not in DateFormat %q", f.pattern)
	}
	return t.UTC(), nil
}

func (f DateFormat) orDefault() DateFormat {
	if f.pattern == "" {
		f, _ = ParseDateFormat(DefaultDateFormat)
	}
	return f
}

// letterLayout is the Go layout of a run of n equal Java pattern letters.
func letterLayout(c byte, n int) (string, error) {
	switch c {
	case 'y', 'u':
		if n == 2 {
			return "06", nil
		}
		return "2006", nil
	case 'M', 'L':
		switch n {
		case 1:
			return "1", nil
		case 2:
			return "01", nil
		case 3:
			return "Jan", nil
		}
		return "January", nil
	case 'd':
		return pick(n, "2", "02"), nil
	case 'H':
		// Go has no unpadded 24-hour form: H writes "09" where Java writes "9"; both parse.
		return "15", nil
	case 'h':
		return pick(n, "3", "03"), nil
	case 'm':
		return pick(n, "4", "04"), nil
	case 's':
		return pick(n, "5", "05"), nil
	case 'a':
		return "PM", nil
	case 'X':
		switch n {
		case 1:
			return "Z07", nil
		case 2:
			return "Z0700", nil
		}
		return "Z07:00", nil
	case 'Z':
		if n >= 5 {
			return "Z07:00", nil
		}
		return "-0700", nil
	case 'S':
		return "", fmt.Errorf("fractions of a second (S) must follow the seconds and a '.' or ','")
	}
	return "", fmt.Errorf("pattern letter %q is not supported (use y M d H h m s S a X Z)", c)
}

func pick(n int, one, two string) string {
	if n == 1 {
		return one
	}
	return two
}

// run counts the equal letters starting at i.
func run(p string, i int) int {
	n := 1
	for i+n < len(p) && p[i+n] == p[i] {
		n++
	}
	return n
}

// quoted reads the literal text of a quote starting at i, with two single quotes standing for one.
func quoted(p string, i int) (string, int, error) {
	if i+1 < len(p) && p[i+1] == '\'' {
		return "'", i + 2, nil
	}
	var b strings.Builder
	for j := i + 1; j < len(p); j++ {
		if p[j] != '\'' {
			b.WriteByte(p[j])
			continue
		}
		if j+1 < len(p) && p[j+1] == '\'' {
			b.WriteByte('\'')
			j++
			continue
		}
		return b.String(), j + 1, nil
	}
	return "", 0, fmt.Errorf("DateFormat %q: unterminated quote", p)
}

// literalFits rejects literal text that Go would read as a layout element (digits, month or day names).
func literalFits(lit string) error {
	for i := 0; i < len(lit); i++ {
		if lit[i] >= '0' && lit[i] <= '9' {
			return fmt.Errorf("DateFormat: literal digits are not supported")
		}
		for _, word := range []string{"Jan", "Mon", "MST", "PM", "pm"} {
			if strings.HasPrefix(lit[i:], word) {
				return fmt.Errorf("DateFormat: literal text %q is not supported", word)
			}
		}
	}
	return nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
