ALTER TABLE idempotency_keys
    ALTER COLUMN route TYPE text,
    ALTER COLUMN key TYPE text,
    ALTER COLUMN status TYPE text,
    ALTER COLUMN response_status TYPE integer,
    ADD CONSTRAINT idempotency_keys_route_check CHECK (length(route) BETWEEN 1 AND 512),
    ADD CONSTRAINT idempotency_keys_key_check CHECK (length(key) BETWEEN 1 AND 255),
    ADD CONSTRAINT idempotency_keys_status_check CHECK (status IN ('in_flight', 'completed')),
    ADD CONSTRAINT idempotency_keys_response_status_check CHECK (response_status BETWEEN 100 AND 599),
    ADD CONSTRAINT idempotency_keys_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE;
DROP DOMAIN http_status;
DROP DOMAIN idempotency_status;
DROP DOMAIN idempotency_key;
DROP DOMAIN idempotency_route;
