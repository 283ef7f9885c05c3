"""Core: errors, clock, ids. Standard library only."""
