"""vpcflow: AWS VPC Flow Logs, locally and faithfully.

The package reads in the order data moves: ``core`` -> ``model`` -> ``codecs`` -> ``iam``/``storage``
-> ``controlplane``/``dataplane``/``query`` -> ``runtime`` -> ``api``/``cli``.
See ``docs/ARCHITECTURE.md``.
"""

__version__ = "0.1.0"
