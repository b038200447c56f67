package localrun_test

import (
	"strings"
	"testing"
	"time"

	"github.com/rocker-app/corral/shared/localrun"
)

func TestParseSchedule(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		expr  string
		after string
		want  []string // successive firings
	}{
		{"rate(1 minute)", "2031-05-17T10:00:30Z", []string{"2031-05-17T10:01:30Z", "2031-05-17T10:02:30Z"}},
		{"rate(5 minutes)", "2031-05-17T10:00:00Z", []string{"2031-05-17T10:05:00Z"}},
		{"rate(1 hour)", "2031-05-17T10:00:00Z", []string{"2031-05-17T11:00:00Z"}},
		{"rate(2 days)", "2031-05-17T10:00:00Z", []string{"2031-05-19T10:00:00Z"}},
		{"cron(0 3 * * ? *)", "2031-05-17T10:00:00Z", []string{"2031-05-18T03:00:00Z", "2031-05-19T03:00:00Z"}},
		{"cron(*/15 * * * ? *)", "2031-05-17T10:07:59Z", []string{"2031-05-17T10:15:00Z", "2031-05-17T10:30:00Z", "2031-05-17T10:45:00Z", "2031-05-17T11:00:00Z"}},
		{"cron(0/20 9-10 * * ? *)", "2031-05-17T10:50:00Z", []string{"2031-05-18T09:00:00Z", "2031-05-18T09:20:00Z"}},
		{"cron(0 12 ? * MON-FRI *)", "2031-05-16T13:00:00Z", []string{"2031-05-19T12:00:00Z", "2031-05-20T12:00:00Z"}}, // 16th is a Friday
		{"cron(0 12 ? * 1 *)", "2031-05-16T13:00:00Z", []string{"2031-05-18T12:00:00Z"}},                               // 1 is Sunday
		{"cron(0 0 1 JAN,JUL ? *)", "2031-05-17T10:00:00Z", []string{"2031-07-01T00:00:00Z", "2032-01-01T00:00:00Z"}},
		{"cron(30 23 L * ? *)", "2032-02-01T00:00:00Z", []string{"2032-02-29T23:30:00Z", "2032-03-31T23:30:00Z"}}, // leap year
		{"cron(0 9 ? * 6L *)", "2031-05-01T00:00:00Z", []string{"2031-05-30T09:00:00Z", "2031-06-27T09:00:00Z"}},  // last Friday
		{"cron(0 9 ? * MON#2 *)", "2031-05-01T00:00:00Z", []string{"2031-05-12T09:00:00Z", "2031-06-09T09:00:00Z"}},
		{"cron(0 0 1 1 ? 2031-2032)", "2031-05-17T10:00:00Z", []string{"2032-01-01T00:00:00Z", "0001-01-01T00:00:00Z"}}, // then none
		{"cron(0 0 29 2 ? *)", "2031-01-01T00:00:00Z", []string{"2032-02-29T00:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			s, err := localrun.ParseSchedule(tt.expr)
			if err != nil {
				t.Fatalf("ParseSchedule: %v", err)
			}
			cur := at(tt.after)
			for i, w := range tt.want {
				got := s.Next(cur)
				if want := at(w); !got.Equal(want) {
					t.Fatalf("firing %d after %s: %s, want %s", i+1, cur, got.Format(time.RFC3339), w)
				}
				cur = got
			}
		})
	}
}

func TestParseScheduleErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ expr, want string }{
		{"every hour", "want rate(...) or cron(...)"},
		{"rate(1 minutes)", "unit must be"},
		{"rate(5 minute)", "plural unit"},
		{"rate(0 minutes)", "positive integer"},
		{"rate(1 week)", "unit must be"},
		{"cron(0 3 * * *)", "six fields"},
		{"cron(0 3 * * * *)", "exactly one of day-of-month and day-of-week must be ?"},
		{"cron(0 3 ? * ? *)", "exactly one of"},
		{"cron(60 3 * * ? *)", "minutes"},
		{"cron(0 24 * * ? *)", "hours"},
		{"cron(0 3 15W * ? *)", "nearest-weekday W form is not supported"},
		{"cron(0 3 ? FOO * *)", "month"},
		{"cron(0 3 ? * 8 *)", "day-of-week"},
		{"cron(0 10-5 * * ? *)", "runs backwards"},
		{"cron(0 3 * * ? 1969)", "year"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			_, err := localrun.ParseSchedule(tt.expr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseSchedule(%q): err = %v, want one containing %q", tt.expr, err, tt.want)
			}
		})
	}
}

func BenchmarkCronNext(b *testing.B) {
	s, err := localrun.ParseSchedule("cron(0 9 ? * MON#2 *)")
	if err != nil {
		b.Fatal(err)
	}
	start := time.Date(2031, 5, 1, 0, 0, 0, 0, time.UTC)
	for b.Loop() {
		s.Next(start)
	}
}
