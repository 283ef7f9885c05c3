"""Evaluation (verb): security groups (stateful, connection tracking) and network ACLs (stateless)."""
