"""Runs the sandbox on uvicorn in a background thread, and gives tests a Python handle on it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import uvicorn

from .app import create_app
from .control import Control, RequestRecord, SecretsMode, Settings
from .store import Store
from .transport import SandboxH11Protocol


@dataclass(frozen=True)
class Account:
    """A Space Invoices account of the sandbox and one of its access tokens."""

    id: str
    token: str
    email: str


@dataclass(frozen=True)
class Invoice:
    """An invoice that can be paid through its shareable id."""

    id: str
    shareable_id: str
    number: str
    organization_id: str
    amount: float
    currency: str


@dataclass(frozen=True)
class Demo:
    """The demo seed: the same objects every time for one database."""

    account_id: str
    token: str
    organization_id: str
    invoice_id: str
    shareable_id: str


class Sandbox:
    """A local Space Invoices server and the switches tests use on it (see the package docstring)."""

    def __init__(
        self,
        *,
        db: str = ":memory:",
        rate_limit: int | None = 100,
        secrets: SecretsMode = "full",
        link_methods: Iterable[str] = ("POST", "GET"),
        link_disallowed: Literal["405", "404"] = "405",
        link_expiry_seconds: float = 300.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.control = Control(Settings(
            rate_limit=rate_limit or None, secrets=secrets,
            link_methods=frozenset(method.upper() for method in link_methods),
            link_disallowed=link_disallowed, link_expiry_seconds=link_expiry_seconds,
        ))
        self.store = Store(db)
        self.app = create_app(self.store, self.control)
        self.host = host
        self.port = port
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # Life cycle

    def start(self, timeout: float = 10.0) -> Sandbox:
        """Serve in a background thread; returns once the port accepts connections."""
        if self._server is not None:
            return self
        # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets that say so, and without
        # it every keep-alive request waits ~40 ms for a delayed ACK.
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        config = uvicorn.Config(
            self.app, http=SandboxH11Protocol, ws="none", lifespan="off", loop="asyncio",
            log_config=None, log_level="warning", access_log=False, proxy_headers=False,
            server_header=False, timeout_graceful_shutdown=2, backlog=2048,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="spaceinvoices-sandbox", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                thread.join(timeout)
                sock.close()
                raise RuntimeError("the Space Invoices sandbox did not start")
            time.sleep(0.002)
        self._server, self._thread = server, thread
        self.port = sock.getsockname()[1]
        self.url = f"http://{_url_host(self.host)}:{self.port}"
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving, wait for the server thread, and close the database."""
        server, thread = self._server, self._thread
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(timeout)
            if thread.is_alive():
                server.force_exit = True
                thread.join(timeout)
        self._server = self._thread = None
        self.store.close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # Data

    def create_account(self, email: str = "ops@example.com") -> Account:
        """A new account with one access token."""
        account = self.store.create_account(email)
        return Account(id=account["id"], token=account["token"], email=email)

    def create_token(self, account_id: str) -> str:
        """Another access token for an account (to test token rotation)."""
        return self.store.create_token(account_id)

    def create_organization(self, account_id: str, name: str = "Acme") -> str:
        """A new organization in an account; returns its 24-hex id."""
        return self.store.create_organization(account_id, name)

    def create_invoice(
        self, org_id: str, amount: float = 100.0, currency: str = "EUR", number: str | None = None
    ) -> Invoice:
        """A new unpaid invoice of an organization, reachable by its shareable id."""
        invoice = self.store.create_invoice(org_id, amount=amount, currency=currency, number=number)
        return Invoice(
            id=invoice["id"], shareable_id=invoice["shareable_id"], number=invoice["number"],
            organization_id=invoice["organization_id"], amount=invoice["amount"], currency=invoice["currency"],
        )

    def seed_demo(self) -> Demo:
        """The demo account, token, organization and invoice; created on first call per database."""
        return Demo(**self.store.seed_demo())

    # Request log

    def requests(self, operation: str | None = None, method: str | None = None) -> list[RequestRecord]:
        """Requests served so far (oldest first), optionally of one operation and/or verb."""
        return self.control.log.records(operation, method)

    def count(self, operation: str, method: str | None = None) -> int:
        """How many requests of an operation (and verb) were served."""
        return len(self.control.log.records(operation, method))

    def clear_requests(self) -> None:
        self.control.log.clear()

    # Faults

    def fail_next(
        self,
        operation: str | None = None,
        status: int = 503,
        count: int = 1,
        retry_after: float | None = None,
        path: str | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next `count` matching requests with `status` (and `Retry-After` if given)
        without doing the work. Matching: operation name, verb, and/or a regex searched in the
        canonical (lower-case) path; all None matches every request."""
        self.control.faults.add(
            "error", operation=operation, count=count, status=status, retry_after=retry_after, path=path, method=method
        )

    def drop_next(
        self, operation: str | None = None, count: int = 1, path: str | None = None, method: str | None = None
    ) -> None:
        """Reset the connection of the next `count` matching requests before doing the work."""
        self.control.faults.add("drop", operation=operation, count=count, path=path, method=method)

    def lose_response_next(
        self, operation: str | None = None, count: int = 1, path: str | None = None, method: str | None = None
    ) -> None:
        """Do the work of the next `count` matching requests, then reset the connection unanswered."""
        self.control.faults.add("lose_response", operation=operation, count=count, path=path, method=method)

    def set_latency(self, seconds: float, operation: str | None = None) -> None:
        """Wait `seconds` before answering each request of `operation` (None: all); 0 removes it."""
        self.control.faults.set_latency(seconds, operation)

    def clear_faults(self) -> None:
        """Remove every fault rule and all latency."""
        self.control.faults.clear()

    # Settings

    @property
    def settings(self) -> Settings:
        return self.control.settings

    def set_secrets_mode(self, mode: SecretsMode) -> None:
        """Return Connect secrets in `full`, `masked` (sk_test_****1234) or `omitted` form."""
        self.control.update_settings(secrets=mode)

    def set_link_methods(self, methods: Iterable[str], disallowed: Literal["405", "404"] = "405") -> None:
        """Serve the onboarding link only on `methods`; others get a 405 or a route-level 404."""
        self.control.update_settings(
            link_methods=frozenset(method.upper() for method in methods), link_disallowed=disallowed
        )

    def set_rate_limit(self, limit: int | None) -> None:
        """Requests per second per token; None or 0 turns the limit off."""
        self.control.update_settings(rate_limit=limit or None)

    def set_link_expiry(self, seconds: float) -> None:
        """How long an onboarding link stays usable (checked when it is opened)."""
        self.control.update_settings(link_expiry_seconds=seconds)

    def reset(self) -> None:
        """Start-up settings again, no faults or latency, an empty log and fresh rate windows."""
        self.control.reset()


def run_sandbox(**settings: Any) -> Sandbox:
    """A started Sandbox (keywords as for `Sandbox`); use it as a context manager
    (`with run_sandbox() as sb:`) to stop it."""
    return Sandbox(**settings).start()


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host
