-- Identity: credentials, sessions with rotating refresh tokens, MFA, email verification, tenant invites and
-- the platform-admin flag.
--
-- Row-level security, forced on every table below, has these doors for the application role:
--   self:      a transaction that sets app.user_id reaches that user's own rows.
--   tenant:    tenant-owned rows (sessions, invites) also need app.tenant_id to match, as everywhere else.
--   auth_flow: a transaction that sets app.auth_flow = 'on' (only shared/postgres's identity store does, for
--              the auth routes: login by email, refresh by token, accepting an invite) reaches the rows it
--              must find before it knows who is calling. Like app.stripe_webhook this is defence in depth
--              against our own code paths, not a secret: any code running as corral_app could set it.
-- Secrets are never stored in clear: passwords as argon2id PHC strings, refresh tokens, recovery codes,
-- challenges, verification tokens and invite codes as SHA-256 digests (they are high-entropy random values,
-- so a fast hash is enough), email and TOTP secrets as envelope ciphertext (shared/crypto), email looked up
-- through a keyed blind index.

-- Email: new users store ciphertext and a blind index; the clear column stays nullable for rows written
-- before this migration and is no longer written.
ALTER TABLE users ALTER COLUMN email DROP NOT NULL;
ALTER TABLE users
    ADD COLUMN email_enc      bytea,
    ADD COLUMN email_bidx     bytea UNIQUE,
    ADD COLUMN platform_admin boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT users_email_present CHECK (email IS NOT NULL OR email_bidx IS NOT NULL);

-- The platform-admin flag is set by an operator (psql as the owner), never through the API: the application
-- role may update only these columns of its own row.
REVOKE UPDATE ON users FROM corral_app;
GRANT UPDATE (display_name, email_enc, email_bidx) ON users TO corral_app;

CREATE POLICY auth_flow ON users FOR SELECT TO corral_app
    USING (current_setting('app.auth_flow', true) = 'on');

-- The auth flow names the tenants of a user's memberships.
CREATE POLICY auth_flow ON tenants FOR SELECT TO corral_app
    USING (current_setting('app.auth_flow', true) = 'on');

-- The auth flow lists a user's memberships in every tenant (to choose one at login, to switch). Not a
-- self policy: existing queries rely on memberships showing the current tenant's rows only.
CREATE POLICY auth_flow ON memberships FOR SELECT TO corral_app
    USING (current_setting('app.auth_flow', true) = 'on');

CREATE TABLE user_credentials (
    user_id           uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    password_hash     text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    email_verified_at timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER user_credentials_updated_at BEFORE UPDATE ON user_credentials
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- A session is one login in one tenant: the refresh-token family. Each refresh rotates the token; presenting
-- a token that was already rotated revokes the session (and so every token of the family).
CREATE TABLE sessions (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    aal            text NOT NULL DEFAULT 'aal1' CHECK (aal IN ('aal1', 'aal2')),
    amr            text[] NOT NULL DEFAULT '{pwd}',
    cookie         boolean NOT NULL DEFAULT false,  -- refresh token held in an HttpOnly cookie (CSRF applies)
    user_agent     text CHECK (length(user_agent) <= 512),
    ip             inet,
    created_at     timestamptz NOT NULL DEFAULT now(),
    refreshed_at   timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,            -- absolute lifetime; refresh does not extend it
    revoked_at     timestamptz,
    revoked_reason text CHECK (revoked_reason IN ('logout', 'reuse', 'password', 'mfa', 'membership', 'admin'))
);
CREATE INDEX sessions_user_idx ON sessions (tenant_id, user_id, created_at DESC);
CREATE INDEX sessions_global_user_idx ON sessions (user_id) WHERE revoked_at IS NULL;
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

CREATE TABLE refresh_tokens (
    token_hash  bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    tenant_id   uuid NOT NULL,
    user_id     uuid NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    rotated_at  timestamptz                          -- set when exchanged; a second use is reuse
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

-- TOTP factors (one per user), the secret envelope-encrypted; confirmed once a first code verified.
CREATE TABLE mfa_factors (
    user_id        uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    kind           text NOT NULL DEFAULT 'totp' CHECK (kind = 'totp'),
    secret_enc     bytea NOT NULL,
    confirmed_at   timestamptz,
    last_used_step bigint NOT NULL DEFAULT 0,         -- a TOTP code is accepted once (replay defence)
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mfa_recovery_codes (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  bytea NOT NULL CHECK (length(code_hash) = 32),
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, code_hash)
);

-- Short-lived, single-use tokens: the MFA step of a login, email verification.
CREATE TABLE auth_challenges (
    token_hash bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    kind       text NOT NULL CHECK (kind IN ('mfa', 'email_verification')),
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    detail     jsonb NOT NULL DEFAULT '{}',             -- e.g. the tenant and client of the login under way
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX auth_challenges_expires_idx ON auth_challenges (expires_at);

-- Invites: a code (shown once to the inviter) lets someone join the tenant with a role at signup.
CREATE TABLE tenant_invites (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    code_hash   bytea NOT NULL UNIQUE CHECK (length(code_hash) = 32),
    role        text NOT NULL CHECK (role IN ('admin', 'moderator', 'member')),
    email_bidx  bytea,                                 -- when set, only that email may accept
    created_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    accepted_at timestamptz,
    accepted_by uuid REFERENCES users (id) ON DELETE SET NULL,
    revoked_at  timestamptz,
    UNIQUE (tenant_id, id)
);
CREATE INDEX tenant_invites_keyset_idx ON tenant_invites (tenant_id, created_at DESC, id DESC);

-- Policies.
ALTER TABLE user_credentials ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_credentials FORCE ROW LEVEL SECURITY;
CREATE POLICY self ON user_credentials FOR ALL TO corral_app
    USING (user_id = nullif(current_setting('app.user_id', true), '')::uuid)
    WITH CHECK (user_id = nullif(current_setting('app.user_id', true), '')::uuid);
CREATE POLICY auth_flow ON user_credentials FOR ALL TO corral_app
    USING (current_setting('app.auth_flow', true) = 'on')
    WITH CHECK (current_setting('app.auth_flow', true) = 'on');

ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY self ON sessions FOR ALL TO corral_app
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           AND user_id = nullif(current_setting('app.user_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
                AND user_id = nullif(current_setting('app.user_id', true), '')::uuid);
-- Owners and admins revoke a member's sessions when they remove the member or change their role.
CREATE POLICY tenant_revoke ON sessions FOR UPDATE TO corral_app
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
CREATE POLICY tenant_read ON sessions FOR SELECT TO corral_app
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
CREATE POLICY auth_flow ON sessions FOR ALL TO corral_app
    USING (current_setting('app.auth_flow', true) = 'on')
    WITH CHECK (current_setting('app.auth_flow', true) = 'on');

ALTER TABLE refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE refresh_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY self ON refresh_tokens FOR ALL TO corral_app
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           AND user_id = nullif(current_setting('app.user_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
                AND user_id = nullif(current_setting('app.user_id', true), '')::uuid);
CREATE POLICY auth_flow ON refresh_tokens FOR ALL TO corral_app
    USING (current_setting('app.auth_flow', true) = 'on')
    WITH CHECK (current_setting('app.auth_flow', true) = 'on');

ALTER TABLE mfa_factors ENABLE ROW LEVEL SECURITY;
ALTER TABLE mfa_factors FORCE ROW LEVEL SECURITY;
CREATE POLICY self ON mfa_factors FOR ALL TO corral_app
    USING (user_id = nullif(current_setting('app.user_id', true), '')::uuid)
    WITH CHECK (user_id = nullif(current_setting('app.user_id', true), '')::uuid);
CREATE POLICY auth_flow ON mfa_factors FOR ALL TO corral_app
    USING (current_setting('app.auth_flow', true) = 'on')
    WITH CHECK (current_setting('app.auth_flow', true) = 'on');

ALTER TABLE mfa_recovery_codes ENABLE ROW LEVEL SECURITY;
ALTER TABLE mfa_recovery_codes FORCE ROW LEVEL SECURITY;
CREATE POLICY self ON mfa_recovery_codes FOR ALL TO corral_app
    USING (user_id = nullif(current_setting('app.user_id', true), '')::uuid)
    WITH CHECK (user_id = nullif(current_setting('app.user_id', true), '')::uuid);
CREATE POLICY auth_flow ON mfa_recovery_codes FOR ALL TO corral_app
    USING (current_setting('app.auth_flow', true) = 'on')
    WITH CHECK (current_setting('app.auth_flow', true) = 'on');

ALTER TABLE auth_challenges ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth_challenges FORCE ROW LEVEL SECURITY;
CREATE POLICY self ON auth_challenges FOR ALL TO corral_app
    USING (user_id = nullif(current_setting('app.user_id', true), '')::uuid)
    WITH CHECK (user_id = nullif(current_setting('app.user_id', true), '')::uuid);
CREATE POLICY auth_flow ON auth_challenges FOR ALL TO corral_app
    USING (current_setting('app.auth_flow', true) = 'on')
    WITH CHECK (current_setting('app.auth_flow', true) = 'on');

ALTER TABLE tenant_invites ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_invites FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_invites FOR ALL TO corral_app
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
CREATE POLICY auth_flow ON tenant_invites FOR ALL TO corral_app
    USING (current_setting('app.auth_flow', true) = 'on')
    WITH CHECK (current_setting('app.auth_flow', true) = 'on');

GRANT SELECT, INSERT, UPDATE, DELETE ON user_credentials, sessions, refresh_tokens, mfa_factors,
    mfa_recovery_codes, auth_challenges, tenant_invites TO corral_app;

-- Scheduled cleanup deletes expired sessions (their refresh tokens cascade) and expired challenges.
CREATE POLICY maintenance ON sessions FOR ALL TO corral_maint USING (true) WITH CHECK (true);
GRANT SELECT, DELETE ON sessions TO corral_maint;
GRANT UPDATE (expires_at) ON sessions TO corral_maint;
CREATE POLICY maintenance ON refresh_tokens FOR ALL TO corral_maint USING (true) WITH CHECK (true);
GRANT SELECT, DELETE ON refresh_tokens TO corral_maint;
CREATE POLICY maintenance ON auth_challenges FOR ALL TO corral_maint USING (true) WITH CHECK (true);
GRANT SELECT, DELETE ON auth_challenges TO corral_maint;
GRANT UPDATE (expires_at) ON auth_challenges TO corral_maint;
