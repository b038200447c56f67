-- Dropping the parent drops every partition, including those made later by audit_events_ensure_partition.
DROP TABLE audit_events;
DROP FUNCTION audit_events_ensure_partition(date);
DROP TABLE idempotency_keys;
