package sqsx

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBackoff(t *testing.T) {
	t.Parallel()
	highest := func(n int64) int64 { return n - 1 }
	lowest := func(int64) int64 { return 0 }
	tests := []struct {
		receives  int
		base, max time.Duration
		randN     func(int64) int64
		want      time.Duration
	}{
		{1, 5 * time.Second, 15 * time.Minute, highest, 5 * time.Second},
		{2, 5 * time.Second, 15 * time.Minute, highest, 10 * time.Second},
		{5, 5 * time.Second, 15 * time.Minute, highest, 80 * time.Second},
		{9, 5 * time.Second, 15 * time.Minute, highest, 15 * time.Minute}, // 1280 s capped
		{500, 5 * time.Second, 15 * time.Minute, highest, 15 * time.Minute},
		{0, 5 * time.Second, 15 * time.Minute, highest, 5 * time.Second},  // no receive count: the first
		{3, 5 * time.Second, 15 * time.Minute, lowest, time.Second},       // never 0: that is Permanent's
		{1, 1500 * time.Millisecond, time.Hour, highest, 2 * time.Second}, // whole seconds, rounded up
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("receive %d base %s", tt.receives, tt.base), func(t *testing.T) {
			t.Parallel()
			if got := backoff(tt.receives, tt.base, tt.max, tt.randN); got != tt.want {
				t.Errorf("backoff = %s, want %s", got, tt.want)
			}
		})
	}
	t.Run("full jitter stays in range", func(t *testing.T) {
		t.Parallel()
		seen := map[time.Duration]bool{}
		for range 1000 {
			d := backoff(4, 5*time.Second, 15*time.Minute, rand.Int64N)
			if d < time.Second || d > 40*time.Second {
				t.Fatalf("backoff = %s, outside [1s, 40s]", d)
			}
			seen[d] = true
		}
		if len(seen) < 10 {
			t.Errorf("only %d distinct backoffs in 1000 draws: not jittered", len(seen))
		}
	})
}

func TestOptionsDefaults(t *testing.T) {
	t.Parallel()
	got := Options{}.withDefaults()
	if got.BaseDelay != DefaultBaseDelay || got.MaxDelay != DefaultMaxDelay {
		t.Errorf("defaults = %+v", got)
	}
	got = Options{BaseDelay: time.Hour, MaxDelay: 48 * time.Hour}.withDefaults()
	if got.MaxDelay != 12*time.Hour || got.BaseDelay != time.Hour {
		t.Errorf("clamped = %+v, want max 12h (SQS's limit)", got)
	}
}

func TestBatches(t *testing.T) {
	t.Parallel()
	msgs := func(n, bodySize int) []Message {
		out := make([]Message, n)
		for i := range out {
			out[i] = Message{ID: fmt.Sprint(i), Body: []byte(strings.Repeat("x", bodySize))}
		}
		return out
	}
	sizes := func(bs [][]Message) []int {
		var out []int
		for _, b := range bs {
			out = append(out, len(b))
		}
		return out
	}
	tests := []struct {
		name string
		msgs []Message
		want []int
	}{
		{"none", nil, nil},
		{"one", msgs(1, 10), []int{1}},
		{"ten", msgs(10, 10), []int{10}},
		{"twenty-five", msgs(25, 10), []int{10, 10, 5}},
		{"large bodies split by bytes", msgs(5, 100<<10), []int{2, 2, 1}},
		{"oversized travels alone", msgs(2, 300<<10), []int{1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, sizes(batches(tt.msgs))); diff != "" {
				t.Errorf("batch sizes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseRedrivePolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		arn     string
		n       int
		wantErr bool
	}{
		{"", "", 0, false},
		{`{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:d","maxReceiveCount":5}`, "arn:aws:sqs:us-east-1:1:d", 5, false},
		{`{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:d","maxReceiveCount":"3"}`, "arn:aws:sqs:us-east-1:1:d", 3, false},
		{`{"deadLetterTargetArn":"a","maxReceiveCount":"x"}`, "", 0, true},
		{`not json`, "", 0, true},
	}
	for _, tt := range tests {
		arn, n, err := parseRedrivePolicy(tt.in)
		if arn != tt.arn || n != tt.n || (err != nil) != tt.wantErr {
			t.Errorf("parseRedrivePolicy(%q) = %q, %d, %v", tt.in, arn, n, err)
		}
	}
}
