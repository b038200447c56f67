-- The ledger of Stripe webhook events: one row per event id, written in the same transaction as the
-- event's handler, so an event Stripe delivers twice (it retries any non-2xx, and sometimes sends one
-- event more than once) has its effect once.
--
-- Stripe events belong to the platform account, not to a tenant: the webhook runs with no tenant set.
-- tenant_id is copied from the event object's metadata.tenant_id when it holds a UUID (our Checkout
-- sessions carry it), so a tenant can later read the events about it; it has no foreign key, because the
-- ledger must accept every signed event (a refused insert would make Stripe retry for days) and outlive
-- a deleted tenant as the record of what Stripe told us.
CREATE TABLE stripe_events (
    id            text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 255),
    type          text NOT NULL CHECK (length(type) BETWEEN 1 AND 255),
    tenant_id     uuid,
    livemode      boolean NOT NULL DEFAULT false,
    api_version   text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,             -- when Stripe created the event
    received_at   timestamptz NOT NULL DEFAULT now(),
    processed_at  timestamptz,                      -- when a registered handler ran; NULL: acknowledged only
    object_id     text,                             -- set by a handler: the object the event is about
    object_status text,                             -- set by a handler: that object's status
    payload       jsonb NOT NULL
);
CREATE INDEX stripe_events_tenant_idx ON stripe_events (tenant_id, received_at DESC) WHERE tenant_id IS NOT NULL;
CREATE INDEX stripe_events_received_idx ON stripe_events (received_at);

-- Row-level security, forced like every other table, with two doors for the application role:
--   stripe_webhook: a transaction that sets app.stripe_webhook = 'on' and no tenant (only the
--     stripe-webhook function does) reads and writes every row. A flag of its own rather than "no tenant
--     set": anonymous routes also run with no tenant, and must not see the platform's payments.
--   tenant_read: a tenant reads, never writes, the events whose metadata named it.
ALTER TABLE stripe_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE stripe_events FORCE ROW LEVEL SECURITY;
CREATE POLICY stripe_webhook ON stripe_events FOR ALL TO corral_app
    USING (current_setting('app.stripe_webhook', true) = 'on'
           AND nullif(current_setting('app.tenant_id', true), '') IS NULL)
    WITH CHECK (current_setting('app.stripe_webhook', true) = 'on'
                AND nullif(current_setting('app.tenant_id', true), '') IS NULL);
CREATE POLICY tenant_read ON stripe_events FOR SELECT TO corral_app
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- A ledger: the application never deletes from it.
GRANT SELECT, INSERT, UPDATE ON stripe_events TO corral_app;

-- Scheduled cleanup may delete rows past a retention well beyond Stripe's retry window (3 days).
CREATE POLICY maintenance ON stripe_events FOR ALL TO corral_maint USING (true) WITH CHECK (true);
GRANT SELECT, DELETE ON stripe_events TO corral_maint;
GRANT UPDATE (received_at) ON stripe_events TO corral_maint;
