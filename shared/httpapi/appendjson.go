package httpapi

import (
	"time"
	"unicode/utf8"
)

// JSONAppender is a value that writes its own JSON: AppendJSON appends exactly what encoding/json's
// Encoder (HTML escaping on, as EncodeJSON uses it) writes for the value, without the newline, or fails
// where encoding/json would. EncodeJSON and WriteJSON use it instead of encoding/json's reflection: for the
// hot responses (a horse: two time.Time fields, each a MarshalJSON call whose output encoding/json then
// parses again) that is most of the encoding's cost. Tests must hold the two outputs equal.
type JSONAppender interface {
	AppendJSON(b []byte) ([]byte, error)
}

// AppendJSONString appends s as encoding/json encodes a string with HTML escaping: quotes, backslashes
// and control characters escaped (\b, \f, \n, \r, \t short, the rest \u00XX), <, > and & as \u003c,
// \u003e and \u0026, U+2028 and U+2029 escaped, invalid UTF-8 as U+FFFD.
func AppendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// AppendJSONStringOrNull is AppendJSONString for *s, or null.
func AppendJSONStringOrNull(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return AppendJSONString(b, *s)
}

// AppendJSONTime appends t as time.Time's MarshalJSON writes it (RFC 3339 with the fraction's trailing
// zeros dropped, in t's location), failing where it fails (a year outside 0-9999, a zone offset of a day or
// more) with its error.
func AppendJSONTime(b []byte, t time.Time) ([]byte, error) {
	b = append(b, '"')
	b, err := t.AppendText(b)
	if err != nil {
		_, err = t.MarshalJSON()
		return b, err
	}
	return append(b, '"'), nil
}

const hexDigits = "0123456789abcdef"
