package maintenance

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
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

// table maintains t in one round trip: the partition count, the ensure of each month, the count again and
// the drop, pipelined with a Sync after each, so that each is its own transaction (as when sent one by
// one): a failing statement fails alone, and the error of the first that failed is returned with what the
// others did.
func (p *Partitions) table(ctx context.Context, t PartitionedTable, now time.Time) (Result, error) {
	var r Result
	conn, err := p.db.Acquire(ctx)
	if err != nil {
		return r, err
	}
	defer conn.Release()
	pl := conn.Conn().PgConn().StartPipeline(ctx)
	send := func(sql string, arg string, oid uint32) {
		pl.SendQueryParams(sql, [][]byte{[]byte(arg)}, []uint32{oid}, nil, nil)
		pl.SendPipelineSync()
	}
	months := Months(now, p.opts.MonthsAhead)
	send(partitionCountSQL, t.Name, pgtype.TextOID)
	for _, m := range months {
		send(t.Ensure, m.Format(time.DateOnly), pgtype.DateOID)
	}
	send(partitionCountSQL, t.Name, pgtype.TextOID)
	send(t.DropBefore, now.Add(-t.Retention).UTC().Format(timestamptzText), pgtype.TimestamptzOID)
	if err := pl.Flush(); err != nil {
		_ = pl.Close()
		return r, err
	}
	var firstErr error
	read := func(rows func(*pgconn.ResultReader)) bool {
		_, stmtErr, err := readSegment(pl, rows)
		if err != nil {
			firstErr = errors.Join(firstErr, err)
			return false
		}
		if firstErr == nil {
			firstErr = stmtErr
		}
		return true
	}
	var counts [2]int64
	var countErr error
	count := func(i int) func(*pgconn.ResultReader) {
		return func(rr *pgconn.ResultReader) {
			for rr.NextRow() {
				counts[i], countErr = strconv.ParseInt(string(rr.Values()[0]), 10, 64)
			}
		}
	}
	var dropped []string
	ok := read(count(0))
	for range months {
		ok = ok && read(nil)
	}
	ok = ok && read(count(1)) && read(func(rr *pgconn.ResultReader) {
		for rr.NextRow() {
			dropped = append(dropped, string(rr.Values()[0]))
		}
	})
	if err := pl.Close(); ok && err != nil {
		firstErr = errors.Join(firstErr, err)
	}
	if firstErr = errors.Join(firstErr, countErr); firstErr != nil {
		return r, firstErr
	}
	p.log.InfoContext(ctx, "partitions maintained", "table", t.Name, "created", counts[1]-counts[0], "dropped", dropped)
	r.Rows = counts[1] - counts[0] + int64(len(dropped))
	return r, nil
}

// partitionCountSQL counts the partitions of the table $1 (default partition included).
const partitionCountSQL = `SELECT count(*) FROM pg_inherits WHERE inhparent = to_regclass('public.' || $1::text)`
