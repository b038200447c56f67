package maintenance_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/maintenance"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
)

func TestMonths(t *testing.T) {
	t.Parallel()
	day := func(y int, m time.Month) time.Time { return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		name  string
		now   time.Time
		ahead int
		want  []time.Time
	}{
		{"mid month", time.Date(2031, 5, 17, 12, 0, 0, 0, time.UTC), 2, []time.Time{day(2031, 5), day(2031, 6), day(2031, 7)}},
		{"across the year", time.Date(2031, 11, 30, 23, 59, 0, 0, time.UTC), 3, []time.Time{day(2031, 11), day(2031, 12), day(2032, 1), day(2032, 2)}},
		{"in UTC, not local time", time.Date(2031, 1, 1, 1, 0, 0, 0, time.FixedZone("UTC+2", 2*3600)), 0, []time.Time{day(2030, 12)}},
		{"31st of January", time.Date(2031, 1, 31, 0, 0, 0, 0, time.UTC), 1, []time.Time{day(2031, 1), day(2031, 2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, maintenance.Months(tt.now, tt.ahead)); diff != "" {
				t.Errorf("Months (-want +got):\n%s", diff)
			}
		})
	}
}

// partitionInfo lists audit_events' partitions as "name rls=.. force=.. policies=..".
func partitionInfo(t testing.TB, db *pgtest.DB) []string {
	t.Helper()
	return labels(t, db, `
SELECT c.relname || ' rls=' || c.relrowsecurity || ' force=' || c.relforcerowsecurity || ' policies=' ||
       (SELECT string_agg(p.polname || ':' || array_to_string(p.polroles::regrole[], ','), ' ' ORDER BY p.polname)
        FROM pg_policy p WHERE p.polrelid = c.oid)
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'audit_events'::regclass`)
}

func wantPartitions(names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, n+" rls=true force=true policies=maintenance:corral_maint tenant_isolation:-")
	}
	return out
}

// TestPartitionMaintenance runs partition maintenance as corral_maint at pinned dates: it creates the
// current and next three months with row-level security and the maintenance policy, a second run changes
// nothing, and a later run drops the months entirely past retention (with their rows) and keeps the rest.
func TestPartitionMaintenance(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	// Clear the partitions the migration made for the real current month, so the dates below decide all.
	exec(t, db, `SELECT audit_events_drop_partitions('infinity')`)

	run := func(t *testing.T, now time.Time, retention time.Duration) int64 {
		t.Helper()
		o := maintenance.Options{Now: func() time.Time { return now }, AuditRetention: retention}
		rs, err := maintenance.NewPartitions(db.Maint, testLog(t), o, maintenance.PartitionedTables(o)).Run(ctx)
		if err != nil {
			t.Fatalf("Run at %s: %v", now, err)
		}
		if len(rs) != 1 || rs[0].Step != "audit_events" {
			t.Fatalf("results %+v, want one for audit_events", rs)
		}
		return rs[0].Rows
	}

	nov := time.Date(2031, 11, 15, 10, 0, 0, 0, time.UTC)
	if n := run(t, nov, 90*24*time.Hour); n != 4 {
		t.Errorf("first run: %d partitions changed, want 4 created", n)
	}
	want := wantPartitions("audit_events_default", "audit_events_y2031m11", "audit_events_y2031m12", "audit_events_y2032m01", "audit_events_y2032m02")
	if diff := cmp.Diff(want, partitionInfo(t, db)); diff != "" {
		t.Fatalf("partitions after the first run (-want +got):\n%s", diff)
	}
	if n := run(t, nov, 90*24*time.Hour); n != 0 {
		t.Errorf("second run at the same date: %d partitions changed, want 0", n)
	}
	if diff := cmp.Diff(want, partitionInfo(t, db)); diff != "" {
		t.Fatalf("partitions after the second run (-want +got):\n%s", diff)
	}

	exec(t, db, `INSERT INTO audit_events (kind, occurred_at) VALUES
        ('in dropped month', '2031-11-20T00:00:00Z'), ('in kept month', '2032-02-10T00:00:00Z')`)
	// At 2032-04-20 with 60 days' retention the cutoff is 2032-02-20: November to January are past it,
	// February (ending 1 March) is not.
	if n := run(t, time.Date(2032, 4, 20, 0, 0, 0, 0, time.UTC), 60*24*time.Hour); n != 7 {
		t.Errorf("later run: %d partitions changed, want 4 created + 3 dropped", n)
	}
	want = wantPartitions("audit_events_default", "audit_events_y2032m02",
		"audit_events_y2032m04", "audit_events_y2032m05", "audit_events_y2032m06", "audit_events_y2032m07")
	if diff := cmp.Diff(want, partitionInfo(t, db)); diff != "" {
		t.Errorf("partitions after the later run (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"in kept month"}, labels(t, db, `SELECT kind FROM audit_events`)); diff != "" {
		t.Errorf("audit rows (-want +got):\n%s", diff)
	}
}

// TestPartitionFailureDoesNotStopOthers puts a table whose functions do not exist before audit_events.
func TestPartitionFailureDoesNotStopOthers(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	o := maintenance.Options{Now: func() time.Time { return time.Date(2033, 3, 3, 0, 0, 0, 0, time.UTC) }}
	tables := append([]maintenance.PartitionedTable{{
		Name:       "ghosts",
		Ensure:     `SELECT ghosts_ensure_partition($1::date)`,
		DropBefore: `SELECT ghosts_drop_partitions($1::timestamptz)`,
		Retention:  time.Hour,
	}}, maintenance.PartitionedTables(o)...)
	rs, err := maintenance.NewPartitions(db.Maint, testLog(t), o, tables).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "partition-maintenance ghosts") {
		t.Errorf("Run with a broken table: err = %v, want one naming ghosts", err)
	}
	got := results(t, rs)
	if r := got["audit_events"]; r.Err != nil || r.Rows < 4 {
		t.Errorf("audit_events after the broken table: %+v, want at least 4 partitions created", r)
	}
}
