-- Dropping the tables drops their indexes, policies and grants.
DROP TABLE tenant_invites;
DROP TABLE auth_challenges;
DROP TABLE mfa_recovery_codes;
DROP TABLE mfa_factors;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE user_credentials;

DROP POLICY auth_flow ON memberships;
DROP POLICY auth_flow ON tenants;
DROP POLICY auth_flow ON users;
REVOKE UPDATE (display_name) ON users FROM corral_app;
GRANT UPDATE ON users TO corral_app;

-- Rows without a clear email cannot go back under NOT NULL: they are removed with their data.
DELETE FROM users WHERE email IS NULL;
ALTER TABLE users
    DROP CONSTRAINT users_email_present,
    DROP COLUMN platform_admin,
    DROP COLUMN email_bidx,
    DROP COLUMN email_enc;
ALTER TABLE users ALTER COLUMN email SET NOT NULL;
