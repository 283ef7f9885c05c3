"""The SQLite schema of ``<data-dir>/state.db`` and its version (storage/state.py opens it).

One table per kind of state: settings, the loaded topology document, flow logs (every FlowLog
field plus delivery status), tags, client tokens (idempotency) and bucket policies changed by
auto-attach. ``schema_version`` holds one row; a database from a newer vpcflow is refused.
"""

from __future__ import annotations

SCHEMA_VERSION = 1

DDL = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS topology (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    text      TEXT NOT NULL,   -- the file's text as loaded (YAML or JSON)
    fmt       TEXT NOT NULL,   -- "yaml" | "json"
    source    TEXT NOT NULL,   -- the file name it came from, for messages
    loaded_at TEXT NOT NULL    -- ISO-8601 UTC
);
CREATE TABLE IF NOT EXISTS flow_logs (
    seq                         INTEGER PRIMARY KEY AUTOINCREMENT,  -- creation order (describe order)
    flow_log_id                 TEXT NOT NULL UNIQUE,
    account_id                  TEXT NOT NULL,
    region                      TEXT NOT NULL,
    resource_id                 TEXT NOT NULL,
    resource_type               TEXT NOT NULL,
    traffic_type                TEXT NOT NULL,
    log_destination_type        TEXT NOT NULL,
    log_destination             TEXT,
    log_group_name              TEXT,
    deliver_logs_permission_arn TEXT,
    deliver_cross_account_role  TEXT,
    log_format                  TEXT NOT NULL,
    max_aggregation_interval    INTEGER NOT NULL,
    destination_options         TEXT,          -- JSON [file_format, hive, per_hour] or NULL
    tag_field_specifications    TEXT NOT NULL, -- JSON [[resource_type, [keys]], ...]
    flow_log_status             TEXT NOT NULL,
    creation_time               TEXT NOT NULL, -- ISO-8601 UTC with microseconds
    deliver_logs_status         TEXT NOT NULL DEFAULT 'SUCCESS',
    deliver_logs_error_message  TEXT,
    status_time                 TEXT           -- when the delivery status was last set
);
CREATE INDEX IF NOT EXISTS flow_logs_resource ON flow_logs (resource_id);
CREATE TABLE IF NOT EXISTS tags (
    resource_id TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (resource_id, key)
);
CREATE TABLE IF NOT EXISTS client_tokens (
    token       TEXT NOT NULL,
    operation   TEXT NOT NULL,
    principal   TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    result      TEXT NOT NULL,   -- JSON of the first response
    created_at  TEXT NOT NULL,
    PRIMARY KEY (operation, token)
);
CREATE TABLE IF NOT EXISTS bucket_policies (
    bucket     TEXT PRIMARY KEY,
    policy     TEXT NOT NULL,    -- JSON policy document in force (auto-attached statements included)
    base       TEXT,             -- JSON of the topology file's policy it was derived from (NULL: none)
    updated_at TEXT NOT NULL
);
"""
