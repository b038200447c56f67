package httpapi_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/rocker-app/corral/shared/httpapi"
)

// AppendJSONString writes what encoding/json writes for a string, for the awkward cases and for random
// strings drawn from them.
func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	pieces := []string{"a", "Z", " ", "é", "日本", "🐴", `"`, `\`, "/", "<", ">", "&", "\b", "\f", "\n", "\r", "\t",
		"\x00", "\x01", "\x1f", "\x7f", "\u2028", "\u2029", "\u2027", "\xff", "\xc3", "\xe2\x80", "\ufffd", "'", "+"}
	cases := []string{"", "plain", strings.Join(pieces, ""), `<script>alert("x")</script>`, "a\u2028b\u2029c"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		var sb strings.Builder
		for range rng.IntN(12) {
			sb.WriteString(pieces[rng.IntN(len(pieces))])
		}
		cases = append(cases, sb.String())
	}
	for _, s := range cases {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := httpapi.AppendJSONString([]byte("x"), s); !bytes.Equal(got, append([]byte("x"), want...)) {
			t.Fatalf("AppendJSONString(%q) = %s, want %s", s, got[1:], want)
		}
	}
	var nilString *string
	if got := httpapi.AppendJSONStringOrNull(nil, nilString); string(got) != "null" {
		t.Errorf("AppendJSONStringOrNull(nil) = %s, want null", got)
	}
}

// AppendJSONTime writes what time.Time's MarshalJSON writes, and fails where it fails, with its error.
func TestAppendJSONTimeMatchesMarshalJSON(t *testing.T) {
	t.Parallel()
	east := time.FixedZone("east", 5*3600+30*60)
	times := []time.Time{
		{}, time.Date(2026, 11, 27, 0, 13, 5, 0, time.UTC), time.Date(2026, 1, 2, 3, 4, 5, 120000000, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 123456789, east), time.Date(1999, 12, 31, 23, 59, 59, 1000, time.FixedZone("w", -8*3600)),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
	}
	for _, tm := range times {
		want, err := tm.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		got, err := httpapi.AppendJSONTime(nil, tm)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("AppendJSONTime(%v) = %s, %v; want %s", tm, got, err, want)
		}
	}
	for _, tm := range []time.Time{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("far", 24*3600))} {
		_, want := tm.MarshalJSON()
		if _, err := httpapi.AppendJSONTime(nil, tm); err == nil || want == nil || err.Error() != want.Error() {
			t.Errorf("AppendJSONTime(%v) error %v, want %v", tm, err, want)
		}
	}
}

type appender struct {
	out string
	err error
}

func (a appender) AppendJSON(b []byte) ([]byte, error) { return append(b, a.out...), a.err }

// EncodeJSON takes a JSONAppender's bytes as they are, adds the Encoder's newline, and passes its error on.
func TestEncodeJSONUsesAppender(t *testing.T) {
	t.Parallel()
	got, err := httpapi.EncodeJSON(appender{out: `{"a":1}`})
	if err != nil || string(got) != "{\"a\":1}\n" {
		t.Errorf("EncodeJSON(appender) = %q, %v; want the appended bytes and a newline", got, err)
	}
	boom := errors.New("boom")
	if _, err := httpapi.EncodeJSON(appender{err: boom}); !errors.Is(err, boom) {
		t.Errorf("EncodeJSON(failing appender) error %v, want %v", err, boom)
	}
}
