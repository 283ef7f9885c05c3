"""The one exception tree of vpcflow.

::

    VpcflowError
    ├── ConfigError            bad topology/settings/format, raised before anything runs
    ├── ApiError               .code (AWS code), .message, .http_status; one subclass per AWS code,
    │                          all of them in core/api_errors.py (the API error tree drawn there)
    ├── SourceError            malformed capture: file, byte offset, what was wrong
    ├── DeliveryError          .sink, .destination
    │   ├── DeliveryRetryableError   transient: retried with backoff
    │   └── DeliveryFailedError      terminal: DeliverLogsStatus FAILED with .aws_message
    ├── ReadError              malformed log line: source, line number, raw text
    ├── StateError             the data directory's database is locked, corrupt or from a newer vpcflow,
    │   │                      its disk is full or read-only (storage/guard.py)
    │   └── StateLockedError   locked by another process for too long: the only one a delivery retries
    └── RunInterrupted         a run stopped early on purpose (Ctrl-C, SIGTERM): .reason

Partial success is data, not an exception (CreateFlowLogs returns ``Unsuccessful`` items).
"""

from __future__ import annotations


class VpcflowError(Exception):
    """Root of every error vpcflow raises on purpose."""


class ConfigError(VpcflowError):
    """A topology, settings, scenario or format problem, found before anything runs.

    ``location`` is ``file:line`` when known; ``key_path`` the dotted path of the bad key
    (``vpcs[0].subnets[2].cidr_block``).
    """

    def __init__(self, message: str, *, location: str | None = None, key_path: str | None = None) -> None:
        self.message = message
        self.location = location
        self.key_path = key_path
        prefix = ""
        if location:
            prefix += f"{location}: "
        if key_path:
            prefix += f"{key_path}: "
        super().__init__(prefix + message)


class ApiError(VpcflowError):
    """An AWS API error: ``code`` is AWS's error code, ``message`` AWS's text."""

    code: str = "InternalError"
    http_status: int = 400

    def __init__(self, message: str, *, code: str | None = None, http_status: int | None = None) -> None:
        if code is not None:
            self.code = code
        if http_status is not None:
            self.http_status = http_status
        self.message = message
        super().__init__(f"{self.code}: {message}")


class SourceError(VpcflowError):
    """A malformed capture: names the file, the byte offset and what was wrong."""

    def __init__(self, message: str, *, path: str, offset: int | None = None) -> None:
        self.path = path
        self.offset = offset
        self.reason = message
        where = path if offset is None else f"{path} at byte {offset}"
        super().__init__(f"{where}: {message}")


class DeliveryError(VpcflowError):
    """A destination did not take records."""

    def __init__(self, message: str, *, sink: str, destination: str) -> None:
        self.sink = sink
        self.destination = destination
        super().__init__(f"{sink} {destination}: {message}")


class DeliveryRetryableError(DeliveryError):
    """Transient (throttling, a timeout): retried with backoff.

    ``aws_message`` is the status to report if the retries run out: ``Rate limited`` for throttling,
    ``Unknown error`` for an endpoint that cannot be reached (AWS's "internal error").
    """

    def __init__(self, message: str, *, sink: str, destination: str, aws_message: str = "Rate limited") -> None:
        self.aws_message = aws_message
        super().__init__(message, sink=sink, destination=destination)


class DeliveryFailedError(DeliveryError):
    """Terminal: the flow log shows DeliverLogsStatus FAILED with ``aws_message``.

    ``aws_message`` is one of AWS's texts: ``Access error``, ``Rate limited``, ``Unknown error``.
    """

    def __init__(self, message: str, *, sink: str, destination: str, aws_message: str = "Unknown error") -> None:
        self.aws_message = aws_message
        super().__init__(message, sink=sink, destination=destination)


class ReadError(VpcflowError):
    """A malformed flow-log line: the source, the 1-based line number and the raw text."""

    def __init__(self, message: str, *, source: str, line_number: int, raw: str) -> None:
        self.source = source
        self.line_number = line_number
        self.raw = raw
        super().__init__(f"{source}:{line_number}: {message}: {raw!r}")


class StateError(VpcflowError):
    """The data directory cannot be used safely (locked, corrupt, newer schema)."""


class StateLockedError(StateError):
    """A database stayed locked by another process: transient, unlike every other ``StateError``."""


class RunInterrupted(VpcflowError):
    """A run asked to stop early (``reason``: ``"SIGINT"``, ``"SIGTERM"``); what was delivered stays delivered."""

    def __init__(self, reason: str, message: str | None = None) -> None:
        self.reason = reason
        super().__init__(message or f"interrupted by {reason}")
