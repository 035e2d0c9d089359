"""What the two functions share: a client from explicit settings or the program's stack config,
and running a plain call as a Pulumi output without blocking the event loop or calling the API
during preview."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import pulumi

from .settings import program_config

if TYPE_CHECKING:
    from .client import SpaceInvoicesClient

T = TypeVar("T")

_clients: dict[tuple[str | None, str | None], SpaceInvoicesClient] = {}


def client_for(access_token: str | None, api_url: str | None) -> SpaceInvoicesClient:
    """A client per (token, URL), reused so repeated calls share one connection pool."""
    from .client import SpaceInvoicesClient  # requests loads on the first call, not on import

    key = (access_token, api_url)
    if key not in _clients:
        _clients[key] = SpaceInvoicesClient(access_token, api_url=api_url, config=program_config())
    return _clients[key]


def _unknown() -> pulumi.Output[Any]:
    async def nothing() -> None:
        return None

    async def no() -> bool:
        return False

    return pulumi.Output(set(), nothing(), no())


def call_as_output(fetch: Callable[..., T], *inputs: Any, opts: pulumi.InvokeOptions | None = None) -> pulumi.Output[T]:
    """``fetch(*resolved inputs)`` as an Output: unknown during preview (no API call), run in a
    worker thread otherwise, secret when any input is secret, after ``opts.depends_on``."""
    depends_on = list(opts.depends_on or []) if opts and opts.depends_on else []
    if not isinstance(depends_on, list):
        depends_on = [depends_on]
    gate = pulumi.Output.all(*[resource.urn for resource in depends_on])

    def run(values: list[Any]) -> Any:
        if pulumi.runtime.is_dry_run():
            return _unknown()
        return asyncio.get_running_loop().run_in_executor(None, lambda: fetch(*values[: len(inputs)]))

    return pulumi.Output.all(*inputs, gate).apply(run)
