"""Running the endpoint with uvicorn (the web server lives in ``api`` only; ``vpcflow serve`` calls this).

The socket is bound before uvicorn starts so that ``--port 0`` can print the port the system chose,
and so that a port already in use is a clear error before anything else happens.

Latency on kept-alive connections: the server's own work for a call is a millisecond or two, but
botocore opens its sockets without ``TCP_NODELAY`` and sends a request's headers and body in two
writes, so Nagle's algorithm holds the body back until the server ACKs the headers, and the server's
kernel delays that ACK by about 40 ms. The server therefore ACKs at once: every connection's protocol
sets ``TCP_QUICKACK`` after each read (Linux clears it again by itself), which releases the client's
body immediately. The listening socket also carries ``TCP_NODELAY`` (inherited by accepted
connections), so the server's own writes are never held back either.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import TYPE_CHECKING, Any

from vpcflow.core.errors import ConfigError

if TYPE_CHECKING:
    from vpcflow.api.app import EndpointApp


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


#: uvicorn's HTTP protocol class for every vpcflow endpoint (importable by name in worker processes).
PROTOCOL = "vpcflow.api.quickack:QuickAckProtocol"
#: The environment variable carrying create_app's arguments to worker processes.
APP_ENV = "VPCFLOW_SERVE_APP"


def server_config(app: EndpointApp, *, log_level: str = "info") -> object:
    """The uvicorn configuration every vpcflow endpoint runs with (tests use it too)."""
    import uvicorn

    return uvicorn.Config(app, log_level=log_level, lifespan="on", http=PROTOCOL)


def app_from_environment() -> EndpointApp:
    """The app of one worker process: ``create_app`` with the arguments the parent put in ``APP_ENV``."""
    import json
    import os

    from vpcflow.api.app import create_app
    from vpcflow.api.identity import RootCredentials

    kwargs = json.loads(os.environ[APP_ENV])
    root = kwargs.pop("root_credentials", None)
    return create_app(kwargs.pop("data_dir"), root_credentials=RootCredentials(*root) if root else None, **kwargs)


def _logging(log_level: str) -> None:
    import logging

    # The endpoint's own line per call (api/backend.py) at the same level as uvicorn's logs.
    api_log = logging.getLogger("vpcflow.api")
    if not api_log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     vpcflow %(message)s"))
        api_log.addHandler(handler)
    api_log.setLevel(log_level.upper())


def run_workers(app_kwargs: dict[str, Any], sock: socket.socket, *, workers: int, log_level: str = "info") -> None:
    """Serve with ``workers`` processes sharing ``sock`` (each its own stores; SQLite arbitrates writers)."""
    import json
    import os

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    _logging(log_level)
    os.environ[APP_ENV] = json.dumps(app_kwargs)
    config = uvicorn.Config("vpcflow.api.server:app_from_environment", factory=True, workers=workers,
                            log_level=log_level, lifespan="on", http=PROTOCOL)
    Multiprocess(config, sockets=[sock]).run()


def run(app: EndpointApp, sock: socket.socket, *, log_level: str = "info") -> None:
    """Serve ``app`` on ``sock`` until interrupted (Ctrl-C / SIGTERM stop it cleanly)."""
    import uvicorn

    _logging(log_level)
    server = uvicorn.Server(server_config(app, log_level=log_level))  # type: ignore[arg-type]
    server.run(sockets=[sock])
