"""The sandbox's switches and records: settings, the request log, fault rules and the rate limiter.

Shared between the HTTP server (one event-loop thread) and test code (any thread); each part
guards its own state with a lock. Nothing here does I/O.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Literal

SecretsMode = Literal["full", "masked", "omitted"]
SECRETS_MODES: tuple[str, ...] = ("full", "masked", "omitted")
LINK_METHODS: frozenset[str] = frozenset({"GET", "POST"})
FaultKind = Literal["error", "drop", "lose_response"]

OPERATIONS: tuple[str, ...] = (
    "get_connect", "enable_connect", "update_connect", "get_account", "create_account", "update_account",
    "create_link", "get_payment_intent", "check_token", "page_onboarding", "page_pay", "unknown",
)
"""Operation names used in the request log and by fault rules."""


@dataclass
class Settings:
    """Behaviour switches; tests change them through Sandbox methods or the admin API."""

    rate_limit: int | None = 100
    """Requests per second per token (per client address without a token); None or 0 = off."""
    secrets: SecretsMode = "full"
    """How the Connect config's secrets come back: as stored, masked, or omitted."""
    link_methods: frozenset[str] = LINK_METHODS
    """HTTP verbs the onboarding-link endpoint answers."""
    link_disallowed: Literal["405", "404"] = "405"
    """What a disallowed link verb gets: 405 MethodNotAllowedError or a route-level 404."""
    link_expiry_seconds: float = 300.0
    """Onboarding links expire this long after they were made (checked when used)."""

    def validate(self) -> None:
        """Raise ValueError for an impossible combination of values."""
        if self.secrets not in SECRETS_MODES:
            raise ValueError(f"secrets must be one of {', '.join(SECRETS_MODES)}, not {self.secrets!r}")
        if not self.link_methods or not self.link_methods <= LINK_METHODS:
            raise ValueError(f"link methods must be a non-empty subset of GET, POST, not {sorted(self.link_methods)}")
        if self.link_disallowed not in ("405", "404"):
            raise ValueError(f"disallowed must be '405' or '404', not {self.link_disallowed!r}")
        if self.rate_limit is not None and self.rate_limit < 0:
            raise ValueError("rate limit must be >= 0")
        if self.link_expiry_seconds < 0:
            raise ValueError("link expiry must be >= 0")


@dataclass(frozen=True)
class RequestRecord:
    """One request the sandbox served. Never holds a token or a request body."""

    method: str
    path: str
    operation: str
    status: int | None
    """HTTP status sent, or for `lose_response` the status that was produced; None when dropped."""
    account_id: str | None
    """The account whose token authenticated the call, if any."""
    timestamp: float
    request_id: str
    fault: str | None = None
    """The injected fault that shaped this answer: error, drop, lose_response, or None."""


class RequestLog:
    """Every request served, oldest first (bounded, so a long benchmark cannot exhaust memory).

    Clearing starts a new generation: a request that arrived before the clear and is answered after
    it (a slow one from an earlier test) is not recorded.
    """

    def __init__(self, maxlen: int = 200_000) -> None:
        self._lock = threading.Lock()
        self._records: deque[RequestRecord] = deque(maxlen=maxlen)
        self._generation = 0

    @property
    def generation(self) -> int:
        return self._generation

    def add(self, record: RequestRecord, generation: int | None = None) -> None:
        """Record a request; `generation` is the log's generation when the request arrived."""
        with self._lock:
            if generation is None or generation == self._generation:
                self._records.append(record)

    def records(self, operation: str | None = None, method: str | None = None) -> list[RequestRecord]:
        """Records, optionally only one operation and/or HTTP method."""
        with self._lock:
            records = list(self._records)
        return [
            r for r in records
            if (operation is None or r.operation == operation) and (method is None or r.method == method.upper())
        ]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self._generation += 1


@dataclass
class FaultRule:
    """An injected fault for the next `remaining` matching requests."""

    kind: FaultKind
    remaining: int
    operation: str | None = None
    method: str | None = None
    path: re.Pattern[str] | None = None
    status: int = 503
    retry_after: float | None = None

    def matches(self, operation: str, method: str, path: str) -> bool:
        """Whether this rule targets the request (`path` is the canonical, lower-case one)."""
        return (
            (self.operation is None or self.operation == operation)
            and (self.method is None or self.method == method)
            and (self.path is None or self.path.search(path) is not None)
        )


class Faults:
    """Fault rules (consumed in the order added) and added latency."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._latency: dict[str | None, float] = {}

    def add(
        self,
        kind: FaultKind,
        *,
        operation: str | None = None,
        count: int = 1,
        status: int = 503,
        retry_after: float | None = None,
        path: str | None = None,
        method: str | None = None,
    ) -> None:
        """Add a rule; `path` is a regular expression searched in the canonical request path."""
        if kind not in ("error", "drop", "lose_response"):
            raise ValueError(f"unknown fault kind {kind!r}")
        if operation is not None and operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}; one of {', '.join(OPERATIONS)}")
        if count < 1:
            raise ValueError("count must be >= 1")
        if kind == "error" and not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status (400..599)")
        rule = FaultRule(
            kind=kind, remaining=count, operation=operation, method=method.upper() if method else None,
            path=re.compile(path) if path else None, status=status, retry_after=retry_after,
        )
        with self._lock:
            self._rules.append(rule)

    def take(self, operation: str, method: str, path: str) -> FaultRule | None:
        """The first rule matching the request, counted as used (a copy is returned)."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(operation, method, path):
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self._rules.remove(rule)
                    return replace(rule)
        return None

    def set_latency(self, seconds: float, operation: str | None = None) -> None:
        """Add `seconds` before answering `operation` (None: every request); 0 removes it."""
        if seconds < 0:
            raise ValueError("latency must be >= 0")
        with self._lock:
            if seconds:
                self._latency[operation] = seconds
            else:
                self._latency.pop(operation, None)

    def latency(self, operation: str) -> float:
        """Seconds to wait before answering: the operation's own latency, else the global one."""
        with self._lock:
            return self._latency.get(operation, self._latency.get(None, 0.0))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._latency.clear()


class RateLimiter:
    """Sliding one-second window per key; only accepted requests count."""

    WINDOW = 1.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits: dict[str, deque[float]] = {}

    def check(self, key: str, limit: int | None) -> int | None:
        """Count a request; None when accepted, else the whole seconds to wait (>= 1)."""
        if not limit:
            return None
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.WINDOW:
                hits.popleft()
            if len(hits) < limit:
                hits.append(now)
                return None
            return max(1, math.ceil(hits[0] + self.WINDOW - now))

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


@dataclass
class Control:
    """Everything a test can switch or read, as one object the server and the Sandbox share."""

    settings: Settings = field(default_factory=Settings)
    log: RequestLog = field(default_factory=RequestLog)
    faults: Faults = field(default_factory=Faults)
    limiter: RateLimiter = field(default_factory=RateLimiter)

    def __post_init__(self) -> None:
        self.settings.validate()
        self.defaults = replace(self.settings)

    def update_settings(self, **changes: Any) -> Settings:
        """Validate and apply setting changes at once (readers see the old or the new settings)."""
        settings = replace(self.settings, **changes)
        settings.validate()
        self.settings = settings
        return settings

    def reset(self) -> None:
        """Back to the settings the sandbox started with; no faults, empty log, fresh rate windows."""
        self.settings = replace(self.defaults)
        self.faults.clear()
        self.log.clear()
        self.limiter.reset()
