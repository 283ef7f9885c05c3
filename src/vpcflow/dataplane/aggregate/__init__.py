"""Aggregation (verb): observations -> AWS flow records, per active flow log, window by window."""
