-- The transactional outbox and the notifications the first job type writes.

-- outbox holds jobs and events written in the same transaction as the change they announce. After the
-- commit the writer publishes them at once (best effort); outbox-relay publishes whatever is left every
-- minute, in seq order, in batches of `... WHERE published_at IS NULL AND deliver_after <= now() ORDER BY
-- seq LIMIT n FOR UPDATE SKIP LOCKED`, and marks them published in the same transaction once the queue has
-- accepted them. A failed send leaves the row pending (attempts, last_error, deliver_after pushed back).
-- tenant_id is NULL for an entry of no tenant (system jobs): such rows are visible only to a transaction
-- with no tenant set, like anonymous idempotency keys.
CREATE TABLE outbox (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq           bigserial NOT NULL,
    tenant_id     uuid REFERENCES tenants (id) ON DELETE CASCADE,
    queue         text NOT NULL CHECK (length(queue) BETWEEN 1 AND 80),
    kind          text NOT NULL CHECK (length(kind) BETWEEN 1 AND 100),
    payload       jsonb NOT NULL,
    deliver_after timestamptz NOT NULL DEFAULT now(),
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz,
    attempts      integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error    text CHECK (length(last_error) <= 2000)
);
-- The relay's scan: pending rows in seq order. The index is partial, so it holds only what is pending
-- (published_at is NULL in every entry, so it is not a key column).
CREATE INDEX outbox_pending_idx ON outbox (seq) WHERE published_at IS NULL;
-- The cleanup's scan: published rows past retention.
CREATE INDEX outbox_published_idx ON outbox (published_at) WHERE published_at IS NOT NULL;
-- No index leads with tenant_id: the application reaches outbox rows only by id (right after writing
-- them), never lists them per tenant.

ALTER TABLE outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON outbox
    USING (tenant_id IS NOT DISTINCT FROM nullif(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id IS NOT DISTINCT FROM nullif(current_setting('app.tenant_id', true), '')::uuid);
-- outbox-relay publishes the rows of every tenant, and cleanup deletes published ones, as corral_maint.
CREATE POLICY maintenance ON outbox FOR ALL TO corral_maint USING (true) WITH CHECK (true);

GRANT SELECT, INSERT, UPDATE, DELETE ON outbox TO corral_app, corral_maint;
GRANT USAGE ON SEQUENCE outbox_seq_seq TO corral_app, corral_maint;

-- notifications are the in-app notices of a member, newest first. A plain table for now; monthly
-- partitioning (like audit_events) is planned once volume asks for it.
CREATE TABLE notifications (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (length(kind) BETWEEN 1 AND 100),
    title      text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    body       text NOT NULL DEFAULT '' CHECK (length(body) <= 5000),
    data       jsonb,
    read_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_user_keyset_idx ON notifications (tenant_id, user_id, created_at DESC, id DESC);
CREATE INDEX notifications_unread_idx ON notifications (tenant_id, user_id, created_at DESC)
    WHERE read_at IS NULL;
-- Deleting a user cascades here; cleanup deletes rows past retention across tenants.
CREATE INDEX notifications_user_fk_idx ON notifications (user_id);
CREATE INDEX notifications_created_idx ON notifications (created_at);

ALTER TABLE notifications ENABLE ROW LEVEL SECURITY;
ALTER TABLE notifications FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON notifications
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
CREATE POLICY maintenance ON notifications FOR ALL TO corral_maint USING (true) WITH CHECK (true);

GRANT SELECT, INSERT, UPDATE, DELETE ON notifications TO corral_app;
GRANT SELECT, DELETE ON notifications TO corral_maint;
-- SELECT ... FOR UPDATE in the batched deletes needs an UPDATE privilege on some column.
GRANT UPDATE (created_at) ON notifications TO corral_maint;
