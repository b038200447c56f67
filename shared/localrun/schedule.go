package localrun

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule is a parsed EventBridge schedule expression.
type Schedule interface {
	// Next returns the first firing strictly after after, in UTC; the zero time when there is none (a
	// cron whose years are all past).
	Next(after time.Time) time.Time
}

// ParseSchedule parses an EventBridge schedule expression as template.yaml writes it:
//
//   - rate(value unit): unit minute, hour or day, singular exactly when value is 1 (as AWS insists);
//     it fires every value units, the first time one period after the runner starts.
//   - cron(minutes hours day-of-month month day-of-week year): the six-field AWS form, in UTC. Fields take
//     *, lists (a,b), ranges (a-b), steps (*/n, a/n, a-b/n); months JAN-DEC or 1-12; days of the week
//     SUN-SAT or 1-7 (1 is Sunday); exactly one of day-of-month and day-of-week is ?; day-of-month may be
//     L (the last day), day-of-week may be nL (the last weekday n of the month) or n#k (the k-th weekday
//     n). W (nearest weekday) is not supported and is refused with an error.
//
// It fails with an error naming what is wrong.
func ParseSchedule(expr string) (Schedule, error) {
	expr = strings.TrimSpace(expr)
	switch {
	case strings.HasPrefix(expr, "rate(") && strings.HasSuffix(expr, ")"):
		return parseRate(strings.TrimSuffix(strings.TrimPrefix(expr, "rate("), ")"))
	case strings.HasPrefix(expr, "cron(") && strings.HasSuffix(expr, ")"):
		return parseCron(strings.TrimSuffix(strings.TrimPrefix(expr, "cron("), ")"))
	}
	return nil, fmt.Errorf("schedule %q: want rate(...) or cron(...)", expr)
}

// rate fires every period.
type rate time.Duration

func (r rate) Next(after time.Time) time.Time { return after.UTC().Add(time.Duration(r)) }

func parseRate(s string) (Schedule, error) {
	fields := strings.Fields(s)
	if len(fields) != 2 {
		return nil, fmt.Errorf("rate(%s): want rate(<value> <unit>)", s)
	}
	n, err := strconv.Atoi(fields[0])
	if err != nil || n < 1 {
		return nil, fmt.Errorf("rate(%s): the value must be a positive integer", s)
	}
	units := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}
	unit := fields[1]
	if n != 1 {
		var ok bool
		if unit, ok = strings.CutSuffix(unit, "s"); !ok {
			return nil, fmt.Errorf("rate(%s): a value other than 1 takes a plural unit (minutes, hours, days)", s)
		}
	}
	d, ok := units[unit]
	if !ok {
		return nil, fmt.Errorf("rate(%s): unit must be minute(s), hour(s) or day(s), singular for 1", s)
	}
	return rate(time.Duration(n) * d), nil
}

// cron is a parsed six-field expression. Each set holds the allowed values of its field.
type cron struct {
	minutes, hours, months, years map[int]bool
	dom                           map[int]bool // nil when day-of-month is ?
	lastDOM                       bool         // day-of-month L
	dow                           map[int]bool // nil when day-of-week is ?; 1 = Sunday
	lastDOW                       int          // day-of-week nL: the last weekday n (0 when unused)
	nthDOW                        [2]int       // day-of-week n#k: weekday n, k-th of the month (0 when unused)
}

var (
	monthNames = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}
	dayNames   = map[string]int{"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
)

func parseCron(s string) (Schedule, error) {
	f := strings.Fields(s)
	if len(f) != 6 {
		return nil, fmt.Errorf("cron(%s): want six fields (minutes hours day-of-month month day-of-week year), got %d", s, len(f))
	}
	wrap := func(field string, err error) error { return fmt.Errorf("cron(%s): %s: %w", s, field, err) }
	var c cron
	var err error
	if c.minutes, err = parseField(f[0], 0, 59, nil); err != nil {
		return nil, wrap("minutes", err)
	}
	if c.hours, err = parseField(f[1], 0, 23, nil); err != nil {
		return nil, wrap("hours", err)
	}
	if c.months, err = parseField(f[3], 1, 12, monthNames); err != nil {
		return nil, wrap("month", err)
	}
	if c.years, err = parseField(f[5], 1970, 2199, nil); err != nil {
		return nil, wrap("year", err)
	}
	domQ, dowQ := f[2] == "?", f[4] == "?"
	if domQ == dowQ {
		return nil, fmt.Errorf("cron(%s): exactly one of day-of-month and day-of-week must be ?", s)
	}
	if !domQ {
		switch {
		case f[2] == "L":
			c.lastDOM = true
		case strings.Contains(f[2], "W"):
			return nil, wrap("day-of-month", errors.New("the nearest-weekday W form is not supported by the local runner"))
		default:
			if c.dom, err = parseField(f[2], 1, 31, nil); err != nil {
				return nil, wrap("day-of-month", err)
			}
		}
	}
	if !dowQ {
		switch {
		case strings.HasSuffix(f[4], "L") && len(f[4]) > 1:
			d, err := atom(strings.TrimSuffix(f[4], "L"), 1, 7, dayNames)
			if err != nil {
				return nil, wrap("day-of-week", err)
			}
			c.lastDOW = d
		case strings.Contains(f[4], "#"):
			day, nth, _ := strings.Cut(f[4], "#")
			d, err := atom(day, 1, 7, dayNames)
			if err != nil {
				return nil, wrap("day-of-week", err)
			}
			k, err := atom(nth, 1, 5, nil)
			if err != nil {
				return nil, wrap("day-of-week", err)
			}
			c.nthDOW = [2]int{d, k}
		default:
			if c.dow, err = parseField(f[4], 1, 7, dayNames); err != nil {
				return nil, wrap("day-of-week", err)
			}
		}
	}
	return &c, nil
}

// parseField parses a comma-separated list of *, values, ranges and steps into the set of values.
func parseField(s string, lo, hi int, names map[string]int) (map[int]bool, error) {
	set := map[int]bool{}
	for part := range strings.SplitSeq(s, ",") {
		rng, stepText, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			var err error
			if step, err = atom(stepText, 1, hi-lo+1, nil); err != nil {
				return nil, fmt.Errorf("step %q: %w", stepText, err)
			}
		}
		from, to := lo, hi
		switch {
		case rng == "*":
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err error
			if from, err = atom(a, lo, hi, names); err != nil {
				return nil, err
			}
			if to, err = atom(b, lo, hi, names); err != nil {
				return nil, err
			}
			if from > to {
				return nil, fmt.Errorf("range %q runs backwards", rng)
			}
		default:
			v, err := atom(rng, lo, hi, names)
			if err != nil {
				return nil, err
			}
			from = v
			if !hasStep {
				to = v
			}
		}
		for v := from; v <= to; v += step {
			set[v] = true
		}
	}
	return set, nil
}

// atom parses one value: a number in [lo, hi] or one of names (case-insensitive).
func atom(s string, lo, hi int, names map[string]int) (int, error) {
	if v, ok := names[strings.ToUpper(s)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		return 0, fmt.Errorf("%q is not a value from %d to %d", s, lo, hi)
	}
	return v, nil
}

// Next walks forward field by field (year, month, day, hour, minute), jumping past whole units that
// cannot match, so even a yearly expression is found in a few hundred steps.
func (c *cron) Next(after time.Time) time.Time {
	t := after.UTC().Truncate(time.Minute).Add(time.Minute)
	for t.Year() <= 2199 {
		switch {
		case !c.years[t.Year()]:
			t = time.Date(t.Year()+1, 1, 1, 0, 0, 0, 0, time.UTC)
		case !c.months[int(t.Month())]:
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		case !c.dayMatches(t):
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, time.UTC)
		case !c.hours[t.Hour()]:
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, time.UTC)
		case !c.minutes[t.Minute()]:
			t = t.Add(time.Minute)
		default:
			return t
		}
	}
	return time.Time{}
}

func (c *cron) dayMatches(t time.Time) bool {
	lastDay := time.Date(t.Year(), t.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
	weekday := int(t.Weekday()) + 1 // AWS: 1 is Sunday
	switch {
	case c.lastDOM:
		return t.Day() == lastDay
	case c.dom != nil:
		return c.dom[t.Day()]
	case c.lastDOW != 0:
		return weekday == c.lastDOW && t.Day()+7 > lastDay
	case c.nthDOW[0] != 0:
		return weekday == c.nthDOW[0] && (t.Day()-1)/7+1 == c.nthDOW[1]
	default:
		return c.dow[weekday]
	}
}
