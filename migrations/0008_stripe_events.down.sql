-- Dropping the table drops its indexes, policies and grants.
DROP TABLE stripe_events;
