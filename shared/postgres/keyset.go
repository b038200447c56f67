package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rocker-app/corral/shared/auth"
)

// keyset builds the one statement of a keyset page, newest first, from constant fragments only: the
// table and column names are constants of the calling store and each condition is a constant whose
// placeholders are written $? and numbered here. Client values travel only as arguments.
type keyset struct {
	conds []string
	args  []any
}

// where adds a condition; each $? in cond takes the next of args.
func (k *keyset) where(cond string, args ...any) {
	var b strings.Builder
	for _, a := range args {
		i := strings.Index(cond, "$?")
		k.args = append(k.args, a)
		b.WriteString(cond[:i])
		b.WriteString("$" + strconv.Itoa(len(k.args)))
		cond = cond[i+2:]
	}
	b.WriteString(cond)
	k.conds = append(k.conds, b.String())
}

// after continues the listing after the row at (createdAt, id).
func (k *keyset) after(createdAt time.Time, id string) {
	k.where(`(created_at, id) < ($?::timestamptz, $?::uuid)`, createdAt, id)
}

// build returns the statement reading limit+1 rows of table, and its arguments.
func (k *keyset) build(table string, cols []string, limit int) (string, []any) {
	var b strings.Builder
	b.WriteString("SELECT ")
	b.WriteString(strings.Join(cols, ", "))
	b.WriteString(" FROM ")
	b.WriteString(table)
	for i, c := range k.conds {
		if i == 0 {
			b.WriteString(" WHERE ")
		} else {
			b.WriteString(" AND ")
		}
		b.WriteString(c)
	}
	args := append(k.args[:len(k.args):len(k.args)], limit+1)
	b.WriteString(" ORDER BY created_at DESC, id DESC LIMIT $")
	b.WriteString(strconv.Itoa(len(args)))
	return b.String(), args
}

// withKeysetFields returns fields plus id and created_at, which the cursor needs, without duplicates.
func withKeysetFields(fields []string) []string {
	out := make([]string, 0, len(fields)+2)
	seen := map[string]bool{}
	for _, f := range append([]string{"id", "created_at"}, fields...) {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

// listPage reads one keyset page of table as p, newest first: the rows matching k's conditions, at most
// limit of them, each holding the columns of fields plus id and created_at (which the next position
// needs). column maps a field name to its column, a constant of the calling store, and where in a row to
// scan it; names it does not know are skipped. more reports that rows follow the page, so the caller can
// make the next position from the last row. Errors are the query's, for the caller to wrap.
func listPage[T any](ctx context.Context, db *DB, p auth.Principal, k *keyset, table string, fields []string, limit int,
	column func(field string, row *T) (col string, dest any, ok bool)) (rows []T, more bool, err error) {
	var (
		cur, zero T
		cols      []string
		dest      []any
	)
	for _, f := range withKeysetFields(fields) {
		if col, d, ok := column(f, &cur); ok {
			cols, dest = append(cols, col), append(dest, d)
		}
	}
	sql, args := k.build(table, cols, limit)
	err = db.Query(ctx, p, ReadOnly, sql, args, func(r pgx.Rows) error {
		cur = zero
		if err := r.Scan(rowInto(dest)); err != nil {
			return err
		}
		rows = append(rows, cur)
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	if len(rows) > limit {
		return rows[:limit], true, nil
	}
	return rows, false, nil
}
