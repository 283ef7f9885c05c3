"""The data plane: packets -> attribution -> evaluation -> aggregation -> sinks, chained only in
``pipeline.py``. Stages exchange columnar batches defined in ``packets.py``."""
