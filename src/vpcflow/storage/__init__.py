"""Persistent state: the SQLite control-plane store, the embedded CloudWatch Logs store, the local bucket store."""
