// Package migrations embeds the SQL migrations. Each change is a numbered pair NNNN_name.up.sql and
// NNNN_name.down.sql, applied in order by golang-migrate (see shared/postgres/schema.Up); every down file
// undoes its up file exactly. Each file runs as one implicit transaction, so a failing file leaves the
// schema as it was.
package migrations

import "embed"

// FS holds every migration file at its root.
//
//go:embed *.sql
var FS embed.FS
