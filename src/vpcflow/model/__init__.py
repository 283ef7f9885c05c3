"""The world as plain typed data: the field catalogue, the topology, flow-log subscriptions."""
