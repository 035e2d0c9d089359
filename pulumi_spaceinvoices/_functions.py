"""What the two functions share: a client from explicit settings or the program's stack config,
and running a plain call as a Pulumi output without blocking the event loop or calling the API
during preview."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import pulumi

from .errors import ConfigurationError, InvalidInputError, SpaceInvoicesError
from .settings import program_config, resolve_api_url

if TYPE_CHECKING:
    from .client import SpaceInvoicesClient

T = TypeVar("T")

_clients: dict[tuple[Any, ...], SpaceInvoicesClient] = {}


def client_for(access_token: str | None, api_url: str | None) -> SpaceInvoicesClient:
    """A client per (token, URL, stack config), reused so repeated calls share one connection pool.

    The stack config is part of the key: one process may run several stacks (Automation API).
    Explicit arguments are checked first: a bad one is an InvalidInputError naming it."""
    from .client import SpaceInvoicesClient  # requests loads on the first call, not on import

    _check_arguments(access_token, api_url)

    config = program_config()
    key = (access_token, api_url, tuple(sorted(config.items())))
    if key not in _clients:
        _clients[key] = SpaceInvoicesClient(access_token, api_url=api_url, config=config)
    return _clients[key]


def _check_arguments(access_token: object, api_url: object) -> None:
    if access_token not in (None, ""):  # empty means "not given", as in the stack config
        token = access_token.strip() if isinstance(access_token, str) else None
        if not token or not token.isascii() or not token.isprintable() or " " in token:
            # Never echo the value: it is a credential.
            raise InvalidInputError("access_token", "must be a Space Invoices access token (printable ASCII, no spaces)")
    if api_url is not None:
        try:
            if not isinstance(api_url, str):
                raise ConfigurationError("not a string")
            resolve_api_url(api_url)
        except ConfigurationError:
            raise InvalidInputError("api_url", "must be an http(s) URL such as https://api.spaceinvoices.com") from None


def _unknown() -> pulumi.Output[Any]:
    async def nothing() -> None:
        return None

    async def no() -> bool:
        return False

    return pulumi.Output(set(), nothing(), no())


def call_as_output(
    fetch: Callable[..., T], *inputs: Any, opts: pulumi.InvokeOutputOptions | None = None
) -> pulumi.Output[T]:
    """``fetch(*resolved inputs)`` as an Output: unknown during preview (no API call), run in a
    worker thread otherwise, secret when any input is secret, after ``opts.depends_on``."""
    depends_on: Any = getattr(opts, "depends_on", None) or []  # a plain InvokeOptions has none
    if not isinstance(depends_on, (list, tuple)):
        depends_on = [depends_on]  # one resource, as ResourceOptions also accepts
    gate = pulumi.Output.all(*[resource.urn for resource in depends_on])

    def call(*values: Any) -> T:
        try:
            return fetch(*values)
        except SpaceInvoicesError as error:
            # A RunError is reported as its message alone; any other exception in an output comes
            # out as a traceback through the SDK's runtime, with our message as its last line.
            raise pulumi.RunError(f"{type(error).__name__}: {error}") from None

    def run(values: list[Any]) -> Any:
        if pulumi.runtime.is_dry_run():
            return _unknown()
        # The stack config lives in context variables (the Automation API sets it only there),
        # which a worker thread does not inherit: run the call in a copy of the program's context.
        context = contextvars.copy_context()
        return asyncio.get_running_loop().run_in_executor(None, lambda: context.run(call, *values[: len(inputs)]))

    return pulumi.Output.all(*inputs, gate).apply(run)
