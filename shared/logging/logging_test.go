package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/logging"
)

func TestScope(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	var s logging.Scope
	s.SetBase(logging.New(&buf, slog.LevelInfo, "fn"))
	s.Add(slog.String("request_id", "r1"))
	ctx := logging.WithScope(context.Background(), &s)
	logging.FromContext(ctx).Info("one")
	s.Add(slog.String("tenant", "t1"), slog.String("user", "u1"), slog.String("a", "1"), slog.String("b", "2"))

	var wg sync.WaitGroup
	for range 4 { // concurrent first use after Add: one logger, no race
		wg.Go(func() { logging.FromContext(ctx).Info("two") })
	}
	wg.Wait()

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var got []map[string]string
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		out := map[string]string{}
		for k, v := range m {
			if k != "time" && k != "level" {
				out[k] = v.(string)
			}
		}
		got = append(got, out)
	}
	two := map[string]string{"function": "fn", "msg": "two", "request_id": "r1", "tenant": "t1", "user": "u1", "a": "1", "b": "2"}
	want := []map[string]string{{"function": "fn", "msg": "one", "request_id": "r1"}, two, two, two, two}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

func TestFromContextOutsideARequest(t *testing.T) {
	t.Parallel()
	if l := logging.FromContext(context.Background()); l != slog.Default() {
		t.Errorf("FromContext(background) = %p, want slog.Default()", l)
	}
	var s logging.Scope // no base: the default logger
	if l := logging.FromContext(logging.WithScope(context.Background(), &s)); l != slog.Default() {
		t.Errorf("FromContext(empty scope) = %p, want slog.Default()", l)
	}
}
