"""The composition root: settings, and wiring of control plane <-> data plane <-> destinations."""
