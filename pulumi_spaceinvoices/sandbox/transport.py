"""Connection-level faults: let the app cut the TCP connection of the request it is serving.

ASGI gives an app no handle on its connection, so the sandbox runs uvicorn with a subclass of its h11
protocol that registers each connection's transport under the (server, client) address pair, which
is also what uvicorn puts in the request's scope. `abort_connection(scope)` looks the transport up
and aborts it with SO_LINGER 0: the kernel sends a TCP RST and discards anything unsent, so the client
gets "connection reset by peer" (with `requests`: `requests.exceptions.ConnectionError`) and never an
HTTP status.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import MutableMapping
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

_TRANSPORTS: dict[tuple[Any, Any], asyncio.Transport] = {}


class SandboxH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus a registry of open connections for `abort_connection`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        _TRANSPORTS[(self.server, self.client)] = transport

    def connection_lost(self, exc: Exception | None) -> None:
        _TRANSPORTS.pop((self.server, self.client), None)
        super().connection_lost(exc)


def abort_connection(scope: MutableMapping[str, Any]) -> bool:
    """Reset the connection that carries this request; False if it is not a sandbox connection."""
    transport = _TRANSPORTS.get((scope.get("server"), scope.get("client")))
    if transport is None:
        return False
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed: aborting is all that is left to do
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    return True
