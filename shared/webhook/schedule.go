package webhook

import "time"

// DefaultSchedule returns the wait before each attempt of a delivery, the first attempt first: at once,
// then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h after the previous failure. A delivery whose eighth
// attempt fails is dead. The result is a new slice.
func DefaultSchedule() []time.Duration {
	return []time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute,
		2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}
}

// DefaultJitter is the relative spread of each wait: ±10%.
const DefaultJitter = 0.1

// NextDelay returns the wait before the attempt after attempt number attempt (1-based) failed:
// schedule[attempt] spread by ±jitter of itself, with r (in [0, 1)) choosing where in the spread. ok is
// false when the schedule has no attempt left.
func NextDelay(schedule []time.Duration, attempt int, jitter, r float64) (d time.Duration, ok bool) {
	if attempt < 0 || attempt >= len(schedule) {
		return 0, false
	}
	base := schedule[attempt]
	return base + time.Duration(float64(base)*jitter*(2*r-1)), true
}
