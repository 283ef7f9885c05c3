"""The ``vpcflow`` command: one module per subcommand, registered lazily in ``main.py``."""
