package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/identity"
)

// IdentityStore keeps accounts, sessions, MFA factors and challenges (migration 0009). Transactions that
// must find rows before they know the caller (login by email, refresh by token, accepting an invite)
// declare app.auth_flow = 'on', the flag those tables' auth_flow policies admit; the others run as the
// user (app.user_id) and, for tenant rows, the tenant, like every other store.
type IdentityStore struct {
	db *DB
}

var _ identity.Store = (*IdentityStore)(nil)

// NewIdentityStore returns the identity store on db.
func NewIdentityStore(db *DB) *IdentityStore { return &IdentityStore{db: db} }

const (
	authFlowSQL  = `SELECT set_config('app.auth_flow', 'on', true)`
	setTenantSQL = `SELECT set_config('app.tenant_id', $1, true)`
)

// authTx runs fn in a transaction as p with the auth-flow flag set.
func (s *IdentityStore) authTx(ctx context.Context, p auth.Principal, fn func(tx pgx.Tx) error) error {
	return s.db.inAuthTx(ctx, p, fn)
}

// authRow is a pgx.Row whose Scan runs sql as one pipelined statement as p with the auth-flow flag set
// (authFlow mode: one round trip, on the write pool, so a change made a moment ago is never read from a
// replica that has not seen it). It is for the flows that are a single statement; authTx for the others.
type authRow struct {
	s    *IdentityStore
	ctx  context.Context
	p    auth.Principal
	sql  string
	args []any
}

// Scan implements pgx.Row; no row is pgx.ErrNoRows, unchanged.
func (r authRow) Scan(dest ...any) error {
	return r.s.db.queryRow(r.ctx, r.p, authFlow, statement{sql: r.sql, args: r.args}, dest)
}

func (s *IdentityStore) authRow(ctx context.Context, p auth.Principal, sql string, args ...any) pgx.Row {
	return authRow{s: s, ctx: ctx, p: p, sql: sql, args: args}
}

// uniqueViolation returns the constraint name of a unique violation, or "".
func uniqueViolation(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return pe.ConstraintName
	}
	return ""
}

const (
	insertUserSQL = `
INSERT INTO users (id, email_enc, email_bidx, display_name) VALUES ($1, $2, $3, $4)`
	insertCredentialsSQL = `
INSERT INTO user_credentials (user_id, password_hash) VALUES ($1, $2)`
	insertChallengeSQL = `
INSERT INTO auth_challenges (token_hash, kind, user_id, detail, expires_at) VALUES ($1, $2, $3, $4, $5)`
)

func insertAccount(ctx context.Context, tx pgx.Tx, a identity.NewAccount, verify identity.Challenge) error {
	if _, err := tx.Exec(ctx, insertUserSQL, a.UserID, a.EmailEnc, a.EmailIndex, a.DisplayName); err != nil {
		if uniqueViolation(err) == "users_email_bidx_key" {
			return identity.ErrEmailTaken
		}
		return fmt.Errorf("postgres: insert user: %w", err)
	}
	if _, err := tx.Exec(ctx, insertCredentialsSQL, a.UserID, a.PasswordHash); err != nil {
		return fmt.Errorf("postgres: insert credentials: %w", err)
	}
	if verify.Hash != nil {
		if err := insertChallenge(ctx, tx, verify); err != nil {
			return err
		}
	}
	return nil
}

func insertChallenge(ctx context.Context, tx pgx.Tx, c identity.Challenge) error {
	if _, err := tx.Exec(ctx, insertChallengeSQL, c.Hash, c.Kind, c.UserID, c.Detail, c.ExpiresAt); err != nil {
		return fmt.Errorf("postgres: insert challenge: %w", err)
	}
	return nil
}

// SignupTenant implements identity.Store. It runs as the new user in the new tenant, so the ordinary
// tenant and self policies admit every insert.
func (s *IdentityStore) SignupTenant(ctx context.Context, a identity.NewAccount, t identity.NewTenant, verify identity.Challenge) error {
	return s.db.InTx(ctx, auth.Principal{TenantID: t.ID, UserID: a.UserID}, func(tx pgx.Tx) error {
		if err := insertAccount(ctx, tx, a, verify); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO tenants (id, name, slug) VALUES ($1, $2, $3)`, t.ID, t.Name, t.Slug); err != nil {
			if uniqueViolation(err) == "tenants_slug_key" {
				return identity.ErrSlugTaken
			}
			return fmt.Errorf("postgres: insert tenant: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, 'owner')`, t.ID, a.UserID); err != nil {
			return fmt.Errorf("postgres: insert membership: %w", err)
		}
		return nil
	})
}

// acceptInviteSQL locks a usable invite; an invite restricted to an email matches only its blind index.
const acceptInviteSQL = `
SELECT i.id, i.tenant_id::text, i.role, t.name, t.slug
FROM tenant_invites i JOIN tenants t ON t.id = i.tenant_id
WHERE i.code_hash = $1 AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > now()
  AND (i.email_bidx IS NULL OR i.email_bidx = $2)
FOR UPDATE OF i`

// SignupInvite implements identity.Store.
func (s *IdentityStore) SignupInvite(ctx context.Context, a identity.NewAccount, inviteHash []byte, verify identity.Challenge) (identity.Membership, error) {
	var m identity.Membership
	err := s.authTx(ctx, auth.Principal{UserID: a.UserID}, func(tx pgx.Tx) error {
		var inviteID string
		err := tx.QueryRow(ctx, acceptInviteSQL, inviteHash, a.EmailIndex).Scan(&inviteID, &m.TenantID, &m.Role, &m.TenantName, &m.TenantSlug)
		if errors.Is(err, pgx.ErrNoRows) {
			return identity.ErrInviteInvalid
		}
		if err != nil {
			return fmt.Errorf("postgres: find invite: %w", err)
		}
		if _, err := tx.Exec(ctx, setTenantSQL, m.TenantID); err != nil {
			return fmt.Errorf("postgres: set tenant: %w", err)
		}
		if err := insertAccount(ctx, tx, a, verify); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, $3) RETURNING created_at`,
			m.TenantID, a.UserID, m.Role).Scan(&m.JoinedAt); err != nil {
			return fmt.Errorf("postgres: insert membership: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE tenant_invites SET accepted_at = now(), accepted_by = $2 WHERE id = $1`, inviteID, a.UserID); err != nil {
			return fmt.Errorf("postgres: accept invite: %w", err)
		}
		return nil
	})
	return m, err
}

const selectUserSQL = `
SELECT u.id::text, u.display_name, c.password_hash, u.platform_admin, c.email_verified_at IS NOT NULL,
       EXISTS (SELECT 1 FROM mfa_factors f WHERE f.user_id = u.id AND f.confirmed_at IS NOT NULL)
FROM users u JOIN user_credentials c ON c.user_id = u.id`

func scanUser(row pgx.Row) (identity.User, error) {
	var u identity.User
	err := row.Scan(&u.ID, &u.DisplayName, &u.PasswordHash, &u.PlatformAdmin, &u.EmailVerified, &u.MFA)
	if errors.Is(err, pgx.ErrNoRows) {
		return u, identity.ErrNotFound
	}
	if err != nil {
		return u, fmt.Errorf("postgres: user: %w", err)
	}
	return u, nil
}

// UserByEmail implements identity.Store.
func (s *IdentityStore) UserByEmail(ctx context.Context, candidates [][]byte) (identity.User, error) {
	return scanUser(s.authRow(ctx, auth.Principal{}, selectUserSQL+` WHERE u.email_bidx = ANY($1)`, candidates))
}

// UserByID implements identity.Store.
func (s *IdentityStore) UserByID(ctx context.Context, userID string) (u identity.User, err error) {
	err = s.db.InTx(ctx, auth.Principal{UserID: userID}, func(tx pgx.Tx) error {
		u, err = scanUser(tx.QueryRow(ctx, selectUserSQL+` WHERE u.id = $1`, userID))
		return err
	})
	return u, err
}

// SetPasswordHash implements identity.Store.
func (s *IdentityStore) SetPasswordHash(ctx context.Context, userID, hash string) error {
	return s.db.InTx(ctx, auth.Principal{UserID: userID}, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE user_credentials SET password_hash = $2 WHERE user_id = $1`, userID, hash)
		return err
	})
}

// Memberships implements identity.Store.
func (s *IdentityStore) Memberships(ctx context.Context, userID string) ([]identity.Membership, error) {
	var ms []identity.Membership
	err := s.authTx(ctx, auth.Principal{UserID: userID}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
SELECT m.tenant_id::text, t.name, t.slug, m.role, m.created_at
FROM memberships m JOIN tenants t ON t.id = m.tenant_id
WHERE m.user_id = $1 ORDER BY m.created_at, m.tenant_id`, userID)
		if err != nil {
			return err
		}
		ms, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (identity.Membership, error) {
			var m identity.Membership
			err := r.Scan(&m.TenantID, &m.TenantName, &m.TenantSlug, &m.Role, &m.JoinedAt)
			return m, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: memberships: %w", err)
	}
	return ms, nil
}

// sessionColumns are read by every method returning an identity.Session; the role is the membership's
// current one, read in the same statement.
const sessionColumns = `s.id::text, s.tenant_id::text, s.user_id::text, coalesce(m.role, ''), s.aal, s.amr, s.cookie,
       coalesce((SELECT u.platform_admin FROM users u WHERE u.id = s.user_id), false), s.expires_at`

func scanSession(row pgx.Row) (identity.Session, error) {
	var ss identity.Session
	err := row.Scan(&ss.ID, &ss.TenantID, &ss.UserID, &ss.Role, &ss.AAL, &ss.AMR, &ss.Cookie, &ss.PlatformAdmin, &ss.ExpiresAt)
	return ss, err
}

// OpenSession implements identity.Store.
func (s *IdentityStore) OpenSession(ctx context.Context, n identity.NewSession) (ss identity.Session, err error) {
	err = s.db.InTx(ctx, auth.Principal{TenantID: n.TenantID, UserID: n.UserID}, func(tx pgx.Tx) error {
		var ip any
		if n.IP != "" {
			ip = n.IP
		}
		ss, err = scanSession(tx.QueryRow(ctx, `
WITH s AS (
    INSERT INTO sessions (id, tenant_id, user_id, aal, amr, cookie, user_agent, ip, expires_at)
    SELECT $1, $2, $3, $4, $5, $6, nullif(left($7, 512), ''), $8::inet, $9
    WHERE EXISTS (SELECT 1 FROM memberships WHERE tenant_id = $2 AND user_id = $3)
    RETURNING *)
SELECT `+sessionColumns+` FROM s LEFT JOIN memberships m ON m.tenant_id = s.tenant_id AND m.user_id = s.user_id`,
			n.ID, n.TenantID, n.UserID, n.AAL, n.AMR, n.Cookie, n.UserAgent, ip, n.ExpiresAt))
		if errors.Is(err, pgx.ErrNoRows) {
			return identity.ErrNoMembership
		}
		if err != nil {
			return fmt.Errorf("postgres: open session: %w", err)
		}
		_, err = tx.Exec(ctx, `INSERT INTO refresh_tokens (token_hash, session_id, tenant_id, user_id, expires_at) VALUES ($1, $2, $3, $4, $5)`,
			n.RefreshHash, n.ID, n.TenantID, n.UserID, n.RefreshExp)
		if err != nil {
			return fmt.Errorf("postgres: insert refresh token: %w", err)
		}
		return nil
	})
	return ss, err
}

// lockRefreshSQL finds a refresh token with its session, locking both: two concurrent exchanges of one
// token serialise here, and the second sees rotated_at set.
const lockRefreshSQL = `
SELECT r.rotated_at IS NOT NULL, r.expires_at, s.revoked_at IS NOT NULL, ` + sessionColumns + `
FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id
LEFT JOIN memberships m ON m.tenant_id = s.tenant_id AND m.user_id = s.user_id
WHERE r.token_hash = $1
FOR UPDATE OF r, s`

const revokeSessionSQL = `UPDATE sessions SET revoked_at = now(), revoked_reason = $2 WHERE id = $1 AND revoked_at IS NULL`

// Refresh implements identity.Store. A reuse commits the session's revocation before it returns
// ErrRefreshReused; so does a membership found gone.
func (s *IdentityStore) Refresh(ctx context.Context, oldHash, newHash []byte, now time.Time, ttl time.Duration) (identity.Session, error) {
	var ss identity.Session
	var outcome error
	err := s.authTx(ctx, auth.Principal{}, func(tx pgx.Tx) error {
		var rotated, revoked bool
		var tokenExp time.Time
		err := tx.QueryRow(ctx, lockRefreshSQL, oldHash).Scan(&rotated, &tokenExp, &revoked,
			&ss.ID, &ss.TenantID, &ss.UserID, &ss.Role, &ss.AAL, &ss.AMR, &ss.Cookie, &ss.PlatformAdmin, &ss.ExpiresAt)
		if errors.Is(err, pgx.ErrNoRows) {
			outcome = identity.ErrRefreshInvalid
			return nil
		}
		if err != nil {
			return fmt.Errorf("postgres: find refresh token: %w", err)
		}
		switch {
		case revoked || !now.Before(ss.ExpiresAt) || !now.Before(tokenExp):
			outcome = identity.ErrRefreshInvalid
			return nil
		case rotated:
			outcome = identity.ErrRefreshReused
			_, err = tx.Exec(ctx, revokeSessionSQL, ss.ID, identity.RevokedReuse)
			return err
		case ss.Role == "":
			outcome = identity.ErrRefreshInvalid
			_, err = tx.Exec(ctx, revokeSessionSQL, ss.ID, identity.RevokedMembership)
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET rotated_at = $2 WHERE token_hash = $1`, oldHash, now); err != nil {
			return fmt.Errorf("postgres: rotate refresh token: %w", err)
		}
		exp := now.Add(ttl)
		if exp.After(ss.ExpiresAt) {
			exp = ss.ExpiresAt
		}
		if _, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (token_hash, session_id, tenant_id, user_id, expires_at) VALUES ($1, $2, $3, $4, $5)`,
			newHash, ss.ID, ss.TenantID, ss.UserID, exp); err != nil {
			return fmt.Errorf("postgres: insert refresh token: %w", err)
		}
		_, err = tx.Exec(ctx, `UPDATE sessions SET refreshed_at = $2 WHERE id = $1`, ss.ID, now)
		return err
	})
	if err != nil {
		return identity.Session{}, err
	}
	if outcome != nil {
		return identity.Session{}, outcome
	}
	return ss, nil
}

// SessionByRefresh implements identity.Store.
// One statement (authRow): a session revoked a moment ago is not read from a replica.
func (s *IdentityStore) SessionByRefresh(ctx context.Context, hash []byte, now time.Time) (identity.Session, error) {
	ss, err := scanSession(s.authRow(ctx, auth.Principal{}, `
SELECT `+sessionColumns+`
FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id
LEFT JOIN memberships m ON m.tenant_id = s.tenant_id AND m.user_id = s.user_id
WHERE r.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2`, hash, now))
	if errors.Is(err, pgx.ErrNoRows) {
		return identity.Session{}, identity.ErrRefreshInvalid
	}
	return ss, err
}

// Session implements identity.Store.
func (s *IdentityStore) Session(ctx context.Context, tenantID, userID, sessionID string, now time.Time) (ss identity.Session, err error) {
	err = s.db.InTx(ctx, auth.Principal{TenantID: tenantID, UserID: userID}, func(tx pgx.Tx) error {
		ss, err = scanSession(tx.QueryRow(ctx, `
SELECT `+sessionColumns+`
FROM sessions s LEFT JOIN memberships m ON m.tenant_id = s.tenant_id AND m.user_id = s.user_id
WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > $3`, sessionID, userID, now))
		if errors.Is(err, pgx.ErrNoRows) {
			return identity.ErrRefreshInvalid
		}
		return err
	})
	return ss, err
}

// Revoke implements identity.Store.
func (s *IdentityStore) Revoke(ctx context.Context, sessionID, reason string) error {
	// One statement, one round trip (authFlow, as authRow).
	return s.db.Query(ctx, auth.Principal{}, authFlow, revokeSessionSQL, []any{sessionID, reason}, func(pgx.Rows) error { return nil })
}

// RaiseSession implements identity.Store.
func (s *IdentityStore) RaiseSession(ctx context.Context, tenantID, userID, sessionID, method string) (ss identity.Session, err error) {
	err = s.db.InTx(ctx, auth.Principal{TenantID: tenantID, UserID: userID}, func(tx pgx.Tx) error {
		ss, err = scanSession(tx.QueryRow(ctx, `
WITH s AS (
    UPDATE sessions SET aal = 'aal2', amr = CASE WHEN $3 = ANY(amr) THEN amr ELSE array_append(amr, $3) END
    WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > now()
    RETURNING *)
SELECT `+sessionColumns+` FROM s LEFT JOIN memberships m ON m.tenant_id = s.tenant_id AND m.user_id = s.user_id`,
			sessionID, userID, method))
		if errors.Is(err, pgx.ErrNoRows) {
			return identity.ErrRefreshInvalid
		}
		return err
	})
	return ss, err
}

// CreateChallenge implements identity.Store.
func (s *IdentityStore) CreateChallenge(ctx context.Context, c identity.Challenge) error {
	return s.authTx(ctx, auth.Principal{UserID: c.UserID}, func(tx pgx.Tx) error { return insertChallenge(ctx, tx, c) })
}

func scanChallenge(row pgx.Row) (identity.Challenge, error) {
	var c identity.Challenge
	err := row.Scan(&c.Kind, &c.Hash, &c.UserID, &c.Detail, &c.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, identity.ErrChallenge
	}
	return c, err
}

// Challenge implements identity.Store.
func (s *IdentityStore) Challenge(ctx context.Context, kind string, hash []byte, now time.Time) (identity.Challenge, error) {
	return scanChallenge(s.authRow(ctx, auth.Principal{}, `
SELECT kind, token_hash, user_id::text, detail, expires_at FROM auth_challenges
WHERE token_hash = $1 AND kind = $2 AND used_at IS NULL AND expires_at > $3`, hash, kind, now))
}

const consumeChallengeSQL = `
UPDATE auth_challenges SET used_at = $3
WHERE token_hash = $1 AND kind = $2 AND used_at IS NULL AND expires_at > $3
RETURNING kind, token_hash, user_id::text, detail, expires_at`

// ConsumeChallenge implements identity.Store.
func (s *IdentityStore) ConsumeChallenge(ctx context.Context, kind string, hash []byte, now time.Time) (identity.Challenge, error) {
	return scanChallenge(s.authRow(ctx, auth.Principal{}, consumeChallengeSQL, hash, kind, now))
}

// VerifyEmail implements identity.Store.
func (s *IdentityStore) VerifyEmail(ctx context.Context, hash []byte, now time.Time) error {
	return s.authTx(ctx, auth.Principal{}, func(tx pgx.Tx) error {
		c, err := scanChallenge(tx.QueryRow(ctx, consumeChallengeSQL, hash, identity.ChallengeEmailVerification, now))
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE user_credentials SET email_verified_at = coalesce(email_verified_at, $2) WHERE user_id = $1`, c.UserID, now)
		return err
	})
}

// Factor implements identity.Store.
func (s *IdentityStore) Factor(ctx context.Context, userID string) (f identity.Factor, err error) {
	err = s.db.InTx(ctx, auth.Principal{UserID: userID}, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
SELECT secret_enc, confirmed_at IS NOT NULL, last_used_step,
       (SELECT count(*) FROM mfa_recovery_codes c WHERE c.user_id = f.user_id AND c.used_at IS NULL)
FROM mfa_factors f WHERE user_id = $1`, userID).Scan(&f.SecretEnc, &f.Confirmed, &f.LastUsedStep, &f.RecoveryCodes)
		if errors.Is(err, pgx.ErrNoRows) {
			return identity.ErrNotFound
		}
		return err
	})
	return f, err
}

// EnrolFactor implements identity.Store.
func (s *IdentityStore) EnrolFactor(ctx context.Context, userID string, secretEnc []byte) error {
	return s.db.InTx(ctx, auth.Principal{UserID: userID}, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
INSERT INTO mfa_factors (user_id, secret_enc) VALUES ($1, $2)
ON CONFLICT (user_id) DO UPDATE SET secret_enc = excluded.secret_enc, created_at = now(), last_used_step = 0
WHERE mfa_factors.confirmed_at IS NULL`, userID, secretEnc)
		if isForeignKeyViolation(err) { // the token's user no longer exists
			return identity.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("postgres: enrol factor: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return identity.ErrMFAEnrolled
		}
		return nil
	})
}

func replaceRecoveryCodes(ctx context.Context, tx pgx.Tx, userID string, hashes [][]byte) error {
	if _, err := tx.Exec(ctx, `DELETE FROM mfa_recovery_codes WHERE user_id = $1`, userID); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO mfa_recovery_codes (user_id, code_hash) SELECT $1, unnest($2::bytea[])`, userID, hashes)
	return err
}

// ConfirmFactor implements identity.Store.
func (s *IdentityStore) ConfirmFactor(ctx context.Context, userID string, step int64, recovery [][]byte) error {
	return s.db.InTx(ctx, auth.Principal{UserID: userID}, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
UPDATE mfa_factors SET confirmed_at = now(), last_used_step = $2
WHERE user_id = $1 AND confirmed_at IS NULL`, userID, step)
		if err != nil {
			return fmt.Errorf("postgres: confirm factor: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return identity.ErrNotFound
		}
		return replaceRecoveryCodes(ctx, tx, userID, recovery)
	})
}

// UseStep implements identity.Store.
func (s *IdentityStore) UseStep(ctx context.Context, userID string, step int64) (ok bool, err error) {
	err = s.db.InTx(ctx, auth.Principal{UserID: userID}, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE mfa_factors SET last_used_step = $2 WHERE user_id = $1 AND last_used_step < $2`, userID, step)
		ok = tag.RowsAffected() == 1
		return err
	})
	return ok, err
}

// UseRecoveryCode implements identity.Store.
func (s *IdentityStore) UseRecoveryCode(ctx context.Context, userID string, hash []byte) (ok bool, err error) {
	err = s.db.InTx(ctx, auth.Principal{UserID: userID}, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE mfa_recovery_codes SET used_at = now() WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL`, userID, hash)
		ok = tag.RowsAffected() == 1
		return err
	})
	return ok, err
}

// ReplaceRecoveryCodes implements identity.Store.
func (s *IdentityStore) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes [][]byte) error {
	return s.db.InTx(ctx, auth.Principal{UserID: userID}, func(tx pgx.Tx) error {
		return replaceRecoveryCodes(ctx, tx, userID, hashes)
	})
}

// RemoveFactor implements identity.Store.
func (s *IdentityStore) RemoveFactor(ctx context.Context, userID string) error {
	return s.db.InTx(ctx, auth.Principal{UserID: userID}, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM mfa_factors WHERE user_id = $1`, userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return identity.ErrNotFound
		}
		_, err = tx.Exec(ctx, `DELETE FROM mfa_recovery_codes WHERE user_id = $1`, userID)
		return err
	})
}
