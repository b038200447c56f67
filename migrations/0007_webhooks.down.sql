-- Dropping the tables drops their policies, indexes and grants (corral_app's and corral_maint's).
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
