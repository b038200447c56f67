package webhook_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/webhook"
)

func TestDefaultSchedule(t *testing.T) {
	t.Parallel()
	want := []time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}
	if diff := cmp.Diff(want, webhook.DefaultSchedule()); diff != "" {
		t.Errorf("DefaultSchedule (-want +got):\n%s", diff)
	}
}

func TestNextDelay(t *testing.T) {
	t.Parallel()
	s := webhook.DefaultSchedule()
	tests := []struct {
		name    string
		attempt int
		r       float64
		want    time.Duration
		ok      bool
	}{
		{"after the first attempt: 5 s, jitter centred", 1, 0.5, 5 * time.Second, true},
		{"lowest jitter is -10%", 2, 0, 270 * time.Second, true},
		{"highest jitter approaches +10%", 3, 0.999999, 33 * time.Minute, true},
		{"after the seventh: the last 10 h", 7, 0.5, 10 * time.Hour, true},
		{"after the eighth: none left", 8, 0.5, 0, false},
		{"no attempt number 0 or below", -1, 0.5, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := webhook.NextDelay(s, tt.attempt, webhook.DefaultJitter, tt.r)
			if ok != tt.ok || got.Round(time.Millisecond) != tt.want.Round(time.Millisecond) {
				t.Errorf("NextDelay(attempt %d, r %v) = %v, %v; want %v, %v", tt.attempt, tt.r, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestNextDelayStaysWithinTheJitter(t *testing.T) {
	t.Parallel()
	s := webhook.DefaultSchedule()
	for attempt := 1; attempt < len(s); attempt++ {
		for _, r := range []float64{0, 0.1, 0.37, 0.5, 0.81, 0.999} {
			got, _ := webhook.NextDelay(s, attempt, 0.1, r)
			lo, hi := s[attempt]-s[attempt]/10, s[attempt]+s[attempt]/10
			if got < lo || got > hi {
				t.Errorf("attempt %d, r %v: %v outside [%v, %v]", attempt, r, got, lo, hi)
			}
		}
	}
}
