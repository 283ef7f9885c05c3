"""Shared pieces of the embedded CloudWatch Logs store: paging tokens, limits, locking, error helpers.

Split from ``logstore.py`` to keep modules small; import the public names from ``logstore``.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from vpcflow.core.api_errors import InvalidParameterExceptionError, ResourceNotFoundError
from vpcflow.storage.guard import storage_error

Matcher = Callable[[pa.Array], npt.NDArray[np.bool_]]


def group_missing() -> ResourceNotFoundError:
    return ResourceNotFoundError("The specified log group does not exist.")


def stream_missing() -> ResourceNotFoundError:
    return ResourceNotFoundError("The specified log stream does not exist.")


def bad_token() -> InvalidParameterExceptionError:
    return InvalidParameterExceptionError("The specified nextToken is invalid.")


def pos_token(kind: str, ts: int, rowid: int) -> str:
    return f"{kind}/{ts:020d}{rowid:020d}/s"


def parse_pos(token: str) -> tuple[str, int, int]:
    m = re.fullmatch(r"([fb])/(\d{20})(\d{20})/s", token)
    if m is None:
        raise bad_token()
    return m[1], int(m[2]), int(m[3])


def check_limit(limit: int | None, maximum: int, name: str = "limit") -> None:
    if limit is not None and not 1 <= limit <= maximum:
        raise InvalidParameterExceptionError(
            f"1 validation error detected: Value '{limit}' at '{name}' failed to satisfy constraint: "
            + ("Member must have value greater than or equal to 1" if limit < 1
               else f"Member must have value less than or equal to {maximum}")
        )


_F = TypeVar("_F", bound=Callable[..., Any])


def locked(method: _F) -> _F:
    """Serialize a method on the store's lock: one connection is shared by the API server's threads."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            try:
                return method(self, *args, **kwargs)
            except (sqlite3.Error, UnicodeDecodeError) as e:
                raise storage_error(self.path, e) from e

    return wrapper  # type: ignore[return-value]


