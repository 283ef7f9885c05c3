"""Running the endpoint with uvicorn (the web server lives in ``api`` only; ``vpcflow serve`` calls this).

The socket is bound before uvicorn starts so that ``--port 0`` can print the port the system chose,
and so that a port already in use is a clear error before anything else happens.

The listening socket carries ``TCP_NODELAY``, which Linux hands on to every accepted connection:
without it, a kept-alive connection's small responses wait for the client's delayed ACK (Nagle's
algorithm), about 40 ms per call, while the server's own work is a millisecond or two.
"""

from __future__ import annotations

import ipaddress
import socket

from starlette.applications import Starlette

from vpcflow.core.errors import ConfigError


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) only reaches this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port) with ``TCP_NODELAY``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host.strip("[]"), port))
    except OSError as e:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror}", key_path="--port") from None
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def run(app: Starlette, sock: socket.socket, *, log_level: str = "info") -> None:
    """Serve ``app`` on ``sock`` until interrupted (Ctrl-C / SIGTERM stop it cleanly)."""
    import logging

    import uvicorn

    # The endpoint's own line per call (api/backend.py) at the same level as uvicorn's logs.
    api_log = logging.getLogger("vpcflow.api")
    if not api_log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     vpcflow %(message)s"))
        api_log.addHandler(handler)
    api_log.setLevel(log_level.upper())
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, lifespan="on"))
    server.run(sockets=[sock])
