package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/rocker-app/corral/shared/auth"
)

// EnqueueCombined queues a statement as ExecCombined does, without its caller competing for a connection
// yet: the returned wait does that and returns the outcome. Tests use it to make a write carry it.
func (db *DB) EnqueueCombined(ctx context.Context, p auth.Principal, sql string, args ...any) (wait func() (int64, error)) {
	it, cancel := db.combine.enqueue(ctx, p, sql, args)
	return func() (int64, error) {
		defer cancel()
		return db.combine.await(ctx, it)
	}
}

// ScopeDigest is scopeDigest, for TestScopeDigestMatchesSQL.
var ScopeDigest = scopeDigest

// HeaderJSON is headerJSON, for TestHeaderJSONMatchesEncodingJSON.
var HeaderJSON = headerJSON

// RowInto is rowInto over dest, for TestRowIntoMatchesScan.
func RowInto(dest ...any) any { return rowInto(dest) }

// AuthFlow is the identity store's mode, for TestPipelineIsOneTransaction.
const AuthFlow = authFlow

// QueryRowMode is QueryRow for any mode, AuthFlow among them.
func (db *DB) QueryRowMode(ctx context.Context, p auth.Principal, mode Mode, sql string, args []any, dest ...any) error {
	return db.queryRow(ctx, p, mode, statement{sql: sql, args: args}, dest)
}

// InAuthTx is inAuthTx, for TestTxPrincipalInBegin.
func (db *DB) InAuthTx(ctx context.Context, p auth.Principal, fn func(tx pgx.Tx) error) error {
	return db.inAuthTx(ctx, p, fn)
}

// BeginWithPrincipal is beginWithPrincipal, for TestBeginWithPrincipal.
var BeginWithPrincipal = beginWithPrincipal
