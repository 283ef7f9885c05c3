"""uvicorn's HTTP protocol, ACKing every read at once (``TCP_QUICKACK``; why: ``api/server.py``'s docstring).

A module of its own so worker processes can import the class by name (``vpcflow serve --workers N``).
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol


def ack_now(sock: Any) -> None:
    """ACK what the connection has received at once (Linux ``TCP_QUICKACK``; elsewhere nothing)."""
    quickack = getattr(socket, "TCP_QUICKACK", None)
    if quickack is None:
        return
    with contextlib.suppress(OSError):  # a connection already closed by the peer
        sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)


class QuickAckProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    _ack_socket: Any = None  # the connection's socket, looked up once (the loop makes a new wrapper per lookup)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        sock = self._ack_socket
        if sock is None and self.transport is not None:
            sock = self._ack_socket = self.transport.get_extra_info("socket")
        if sock is not None:
            ack_now(sock)
