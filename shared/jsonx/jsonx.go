// Package jsonx appends JSON values the way the standard library's encoders write them, without their
// reflection: strings as encoding/json writes them (AppendString) and as log/slog's JSONHandler writes
// them (AppendStringNoHTML), and times as time.Time's MarshalJSON (AppendTime). Their tests compare the
// bytes with the standard library's.
package jsonx

import (
	"time"
	"unicode/utf8"
)

// AppendString appends s as encoding/json writes a string (json.Marshal, an Encoder with HTML escaping
// on): quotes, backslashes and control characters escaped (\b, \f, \n, \r, \t short, the rest \u00XX),
// <, > and & as \u003c, \u003e and \u0026, U+2028 and U+2029 escaped, invalid UTF-8 as U+FFFD.
func AppendString(b []byte, s string) []byte { return appendString(b, s, true) }

// AppendStringNoHTML appends s as log/slog's JSONHandler writes a string: as AppendString, but with <, >
// and & as they are and only \n, \r and \t written short.
func AppendStringNoHTML(b []byte, s string) []byte { return appendString(b, s, false) }

// AppendStringOrNull is AppendString for *s, or null.
func AppendStringOrNull(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return AppendString(b, *s)
}

// AppendTime appends t as time.Time's MarshalJSON writes it (RFC 3339 with the fraction's trailing zeros
// dropped, in t's location), failing where it fails (a year outside 0-9999, a zone offset of a day or
// more) with its error.
func AppendTime(b []byte, t time.Time) ([]byte, error) {
	b = append(b, '"')
	b, err := t.AppendText(b)
	if err != nil {
		_, err = t.MarshalJSON()
		return b, err
	}
	return append(b, '"'), nil
}

// appendString is AppendString (encodingJSON) or AppendStringNoHTML.
func appendString(b []byte, s string, encodingJSON bool) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && (!encodingJSON || (c != '<' && c != '>' && c != '&')) {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\b' && encodingJSON:
				b = append(b, '\\', 'b')
			case c == '\f' && encodingJSON:
				b = append(b, '\\', 'f')
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

const hexDigits = "0123456789abcdef"
