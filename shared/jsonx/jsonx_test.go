package jsonx_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/rocker-app/corral/shared/jsonx"
)

// AppendString writes what encoding/json writes for a string, for the awkward cases and for random
// strings drawn from them.
// awkwardStrings are strings that need escaping, and random strings drawn from their pieces.
func awkwardStrings() []string {
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
	return cases
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, s := range awkwardStrings() {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := jsonx.AppendString([]byte("x"), s); !bytes.Equal(got, append([]byte("x"), want...)) {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got[1:], want)
		}
	}
	var nilString *string
	if got := jsonx.AppendStringOrNull(nil, nilString); string(got) != "null" {
		t.Errorf("AppendStringOrNull(nil) = %s, want null", got)
	}
}

// AppendTime writes what time.Time's MarshalJSON writes, and fails where it fails, with its error.
func TestAppendTimeMatchesMarshalJSON(t *testing.T) {
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
		got, err := jsonx.AppendTime(nil, tm)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("AppendTime(%v) = %s, %v; want %s", tm, got, err, want)
		}
	}
	for _, tm := range []time.Time{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("far", 24*3600))} {
		_, want := tm.MarshalJSON()
		if _, err := jsonx.AppendTime(nil, tm); err == nil || want == nil || err.Error() != want.Error() {
			t.Errorf("AppendTime(%v) error %v, want %v", tm, err, want)
		}
	}
}

// AppendStringNoHTML writes what log/slog's JSONHandler writes for a string value.
func TestAppendStringNoHTMLMatchesSlog(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	drop := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey {
			return slog.Attr{}
		}
		return a
	}
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: drop}))
	for _, s := range awkwardStrings() {
		buf.Reset()
		log.Info("", "s", s)
		want := strings.TrimSuffix(strings.TrimPrefix(buf.String(), `{"s":`), "}\n")
		if got := jsonx.AppendStringNoHTML(nil, s); string(got) != want {
			t.Fatalf("AppendStringNoHTML(%q) = %s, want %s", s, got, want)
		}
	}
}
