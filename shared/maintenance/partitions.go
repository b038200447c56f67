package maintenance

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PartitionedTable is a table partitioned by UTC calendar month, maintained through two SECURITY DEFINER
// functions its migration grants to corral_maint (the role owns no table, so it cannot create or drop
// partitions itself). A table joins partition maintenance by adding an entry to PartitionedTables.
type PartitionedTable struct {
	// Name is the parent table, e.g. "audit_events"; it names the step.
	Name string
	// Ensure creates the partition of the month holding $1 (date) when absent, with its row-level
	// security and maintenance policy, and returns the partition's name.
	Ensure string
	// DropBefore drops every monthly partition whose whole month ends at or before $1 (timestamptz) and
	// returns the names it dropped. It never drops the default partition.
	DropBefore string
	// Retention is how long the table's rows are kept; a partition goes once its month is entirely older.
	Retention time.Duration
}

// PartitionedTables lists the time-partitioned tables with the retentions of o (defaults filled in):
// audit_events, kept for AuditRetention.
func PartitionedTables(o Options) []PartitionedTable {
	o = o.withDefaults()
	return []PartitionedTable{
		{
			Name:       "audit_events",
			Ensure:     `SELECT audit_events_ensure_partition($1::date)`,
			DropBefore: `SELECT audit_events_drop_partitions($1::timestamptz)`,
			Retention:  o.AuditRetention,
		},
	}
}

// Partitions is the daily partition-maintenance job.
type Partitions struct {
	db     *pgxpool.Pool
	log    *slog.Logger
	opts   Options
	tables []PartitionedTable
}

// NewPartitions returns partition maintenance over db (a corral_maint pool; nil makes every Run fail with
// ErrNoMaintenanceDB) for tables, normally PartitionedTables(o).
func NewPartitions(db *pgxpool.Pool, log *slog.Logger, o Options, tables []PartitionedTable) *Partitions {
	return &Partitions{db: db, log: log, opts: o.withDefaults(), tables: tables}
}

// Months returns the first day (UTC) of the month holding now and of the ahead months after it.
func Months(now time.Time, ahead int) []time.Time {
	now = now.UTC()
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	months := make([]time.Time, 0, ahead+1)
	for i := 0; i <= ahead; i++ {
		months = append(months, first.AddDate(0, i, 0))
	}
	return months
}

// Run maintains every table in turn, each under Options.StepTimeout: it creates the partitions of the
// current month and the next MonthsAhead (doing nothing for those that exist), then drops those whose
// month is entirely past the table's retention. A result's Rows counts the partitions created or dropped
// by this run. The error joins the failures of the tables that failed (each naming its table); the other
// tables have still been maintained.
func (p *Partitions) Run(ctx context.Context) ([]Result, error) {
	if p.db == nil {
		return nil, ErrNoMaintenanceDB
	}
	now := p.opts.Now()
	names := make([]string, len(p.tables))
	for i, t := range p.tables {
		names[i] = t.Name
	}
	return runSteps(ctx, p.log, "partition-maintenance", p.opts.StepTimeout, names, func(ctx context.Context, i int) (Result, error) {
		return p.table(ctx, p.tables[i], now)
	})
}

func (p *Partitions) table(ctx context.Context, t PartitionedTable, now time.Time) (Result, error) {
	var r Result
	before, err := p.partitionCount(ctx, t.Name)
	if err != nil {
		return r, err
	}
	for _, m := range Months(now, p.opts.MonthsAhead) {
		var name string
		if err := p.db.QueryRow(ctx, t.Ensure, unprepared, m).Scan(&name); err != nil {
			return r, err
		}
	}
	after, err := p.partitionCount(ctx, t.Name)
	if err != nil {
		return r, err
	}
	r.Rows = after - before
	rows, err := p.db.Query(ctx, t.DropBefore, unprepared, now.Add(-t.Retention))
	if err != nil {
		return r, err
	}
	dropped, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return r, err
	}
	p.log.InfoContext(ctx, "partitions maintained", "table", t.Name, "created", after-before, "dropped", dropped)
	r.Rows += int64(len(dropped))
	return r, nil
}

// partitionCount counts the partitions of table (default partition included).
func (p *Partitions) partitionCount(ctx context.Context, table string) (int64, error) {
	var n int64
	err := p.db.QueryRow(ctx, `SELECT count(*) FROM pg_inherits WHERE inhparent = to_regclass('public.' || $1::text)`, unprepared, table).Scan(&n)
	return n, err
}
