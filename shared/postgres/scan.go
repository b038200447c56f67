package postgres

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// rowInto is a pgx.RowScanner that scans a row into its destinations, one per column, as rows.Scan
// would. The column types the hot routes read (text into *string or **string, uuid into *string or
// **string, int4 into **int, timestamptz into *time.Time) are decoded from the row's raw values directly;
// every other column, and any value out of the ordinary (a timestamp outside years 1-9999, infinity),
// goes through the connection's type map as rows.Scan does. rows.Scan plans every column of every query
// anew, wrapping nullable destinations in plans it allocates: for a horse, 13 plans and as many
// allocations per request. TestRowIntoMatchesScan holds the two equal.
type rowInto []any

// ScanRow implements pgx.RowScanner.
func (d rowInto) ScanRow(rows pgx.Rows) error {
	fields := rows.FieldDescriptions()
	if len(fields) != len(d) {
		return fmt.Errorf("postgres: %d columns into %d destinations", len(fields), len(d))
	}
	values := rows.RawValues()
	var m *pgtype.Map
	for i, dst := range d {
		f := fields[i]
		if scanFast(f.DataTypeOID, f.Format, values[i], dst) {
			continue
		}
		if m == nil {
			if c := rows.Conn(); c != nil {
				m = c.TypeMap()
			} else {
				m = pgtype.NewMap()
			}
		}
		if err := m.Scan(f.DataTypeOID, f.Format, values[i], dst); err != nil {
			return fmt.Errorf("can't scan into dest[%d] (col: %s): %w", i, f.Name, err)
		}
	}
	return nil
}

// scanFast scans src into dst when it is one of rowInto's direct cases, and reports whether it did.
func scanFast(oid uint32, format int16, src []byte, dst any) bool {
	switch dst := dst.(type) {
	case *string:
		s, ok := stringOf(oid, format, src)
		if ok {
			*dst = s
		}
		return ok
	case **string:
		if src == nil {
			*dst = nil
			return true
		}
		s, ok := stringOf(oid, format, src)
		if ok {
			*dst = &s
		}
		return ok
	case **int:
		if oid != pgtype.Int4OID || format != pgtype.BinaryFormatCode || (src != nil && len(src) != 4) {
			return false
		}
		if src == nil {
			*dst = nil
			return true
		}
		n := int(int32(binary.BigEndian.Uint32(src)))
		*dst = &n
		return true
	case *time.Time:
		if oid != pgtype.TimestamptzOID || format != pgtype.BinaryFormatCode || len(src) != 8 {
			return false
		}
		// As pgx's timestamptz codec with ScanLocation UTC (scanTimesInUTC) decodes it.
		us := int64(binary.BigEndian.Uint64(src))
		t := time.Unix(946_684_800+us/1_000_000, us%1_000_000*1_000).UTC()
		if y := t.Year(); y < 1 || y > 9999 {
			return false // infinity, and the edges where pgx's own range checks apply
		}
		*dst = t
		return true
	}
	return false
}

// stringOf is a non-NULL text or uuid value as a string, as pgx scans it into a *string.
func stringOf(oid uint32, format int16, src []byte) (string, bool) {
	if src == nil {
		return "", false
	}
	switch oid {
	case pgtype.TextOID, pgtype.VarcharOID:
		return string(src), true
	case pgtype.UUIDOID:
		switch {
		case format == pgtype.BinaryFormatCode && len(src) == 16:
			return uuid.UUID(src).String(), true
		case format == pgtype.TextFormatCode:
			return string(src), true
		}
	}
	return "", false
}
