"""``vpcflow agent``: one long-running process per host that records the ENIs it owns (docs/agent.md)."""
