-- The role corral_app is cluster-wide and is kept; only what this migration granted is revoked.
DROP POLICY user_visibility ON users; -- it reads memberships
DROP TABLE memberships;
DROP TABLE users;
DROP TABLE tenants;

REVOKE USAGE ON SCHEMA public FROM corral_app;

DROP EXTENSION IF EXISTS btree_gin;
DROP EXTENSION IF EXISTS pg_trgm;
DROP EXTENSION IF EXISTS citext;
