"""The core both adapters run: what the two resources' providers share.

The resource modules' provider classes are the core (check, diff, create, read, update, delete on
plain snake_case dicts); the dynamic providers are those classes and the plugin calls them. This
module holds what they share: settings and one client per process, the checks with pydantic, the
diff helpers, the create-or-adopt flow, errors with the step in front, and "touched in this run".

Provider instances hold no attributes: dill pickles them by reference into ``__provider`` (a few
dozen bytes, the same on every machine). Settings arrive in the provider process through
``configure()`` (stack config) or the environment and live in this module, with one client per
process. The provider server is started fresh for every deployment, so this module also remembers
which objects this run created or adopted (see ``touched``).
"""

from __future__ import annotations

import asyncio
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, ConfigureRequest, ResourceProvider
from pulumi.output import Unknown

from .errors import APIConnectionError, APIError, AuthenticationError, NotFoundError, SpaceInvoicesError
from .settings import CONFIG_API_URL, CONFIG_TOKEN

if TYPE_CHECKING:  # pydantic and requests load only in the provider process, where they are used
    from pydantic import BaseModel
    from pydantic import ValidationError as PydanticValidationError

    from .client import SpaceInvoicesClient
    from .fields import ResourceFields

# The engine's wire marker for a value not known yet (preview); see pulumi.runtime.rpc.UNKNOWN.
# The provider server hands check and diff a pulumi.output.Unknown object in its place.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
PROVIDER_KEY = "__provider"

_lock = threading.Lock()
_config: dict[str, Any] = {}
_client: SpaceInvoicesClient | None = None
_touched: set[tuple[str, str]] = set()


def is_unknown(value: Any) -> bool:
    return isinstance(value, Unknown) or (isinstance(value, str) and value == UNKNOWN)


def client() -> SpaceInvoicesClient:
    """This process's client, built on first use from the configured settings."""
    global _client
    from .client import SpaceInvoicesClient  # requests loads only in the provider process

    with _lock:
        if _client is None:
            _client = SpaceInvoicesClient(config=_config)
        return _client


def touch(kind: str, object_id: str) -> None:
    """Remember that this run created or adopted an object (so a delete in the same run spares it)."""
    with _lock:
        _touched.add((kind, object_id))


def touched(kind: str, object_id: str) -> bool:
    with _lock:
        return (kind, object_id) in _touched


class SpaceInvoicesProvider(ResourceProvider):
    """Base of both providers: configuration, and the inputs' check from the resource's declarations."""

    serialize_as_secret_always = False  # __provider holds nothing secret
    declared: ClassVar[ResourceFields]  # the resource's fields (fields.py), set by each provider

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        fields = self.declared
        inputs, failures = check_inputs(fields.inputs_model(), news, defaults=fields.defaults,
                                        required=fields.required, output_keys=frozenset(fields.output_only_keys))
        return CheckResult(inputs, failures)

    def configure(self, req: ConfigureRequest) -> None:
        global _client
        report_errors_briefly()
        values = {key: req.config.get(key) for key in (CONFIG_TOKEN, CONFIG_API_URL)}
        with _lock:
            if values != {key: _config.get(key) for key in values}:
                _config.clear()
                _config.update({k: v for k, v in values.items() if v})
                _client = None


class _BriefTracebacks:
    """Stands in for the ``traceback`` module inside the SDK's dynamic-provider server, which reports
    every exception as ``traceback.format_exc()``: this package's errors (whose text already says
    what failed, on which object, and what to do) go out as one message; any other exception keeps
    its full traceback, since that is a bug worth seeing whole."""

    def __getattr__(self, name: str) -> Any:
        return getattr(traceback, name)

    @staticmethod
    def format_exc(*args: Any, **kwargs: Any) -> str:
        error = sys.exc_info()[1]
        if isinstance(error, SpaceInvoicesError):
            return f"{type(error).__name__}: {error}"
        return traceback.format_exc(*args, **kwargs)


def report_errors_briefly() -> None:
    """In the dynamic-provider server (``python -m pulumi.dynamic``), report our errors without the
    20-line traceback through the server's own frames. Anywhere else this does nothing."""
    server = sys.modules.get("__main__")
    module_spec = getattr(server, "__spec__", None)
    if getattr(module_spec, "name", None) == "pulumi.dynamic.__main__" and getattr(server, "traceback", None) is traceback:
        server.traceback = _BriefTracebacks()  # type: ignore[union-attr]


def check_inputs(
    model: type[BaseModel],
    news: Mapping[str, Any],
    *,
    defaults: Mapping[str, Any],
    required: frozenset[str],
    output_keys: frozenset[str],
) -> tuple[dict[str, Any], list[CheckFailure]]:
    """Validate ``news`` with ``model``: the cleaned inputs and one CheckFailure per bad property.

    Unknown values (preview) are kept as they are and validated once they are known.
    """
    from pydantic import ValidationError as PydanticValidationError

    fields = model.model_fields
    inputs = {key: news.get(key) for key in fields}
    inputs.update({key: value for key, value in defaults.items() if inputs.get(key) is None})
    unknown = frozenset(key for key, value in inputs.items() if is_unknown(value))
    failures = [CheckFailure(key, "is not a property of this resource")
                for key in news if key not in fields and key not in output_keys and key != PROVIDER_KEY]
    failures += [CheckFailure(key, "is required") for key in sorted(required) if inputs.get(key) is None]
    known = {key: value for key, value in inputs.items() if key not in unknown and value is not None}
    try:
        validated = model.model_validate(known, context={"unknown": unknown})
    except PydanticValidationError as error:
        return inputs, failures + failures_from(error)
    return {**inputs, **validated.model_dump(exclude_none=True)}, failures


def failures_from(error: PydanticValidationError) -> list[CheckFailure]:
    """One CheckFailure per property, with pydantic's message (never the offending value)."""
    failures: dict[str, str] = {}
    for item in error.errors():
        prop = str(item["loc"][0]) if item["loc"] else "inputs"
        message = item["msg"].removeprefix("Value error, ")
        failures.setdefault(prop, message)
    return [CheckFailure(prop, message) for prop, message in failures.items()]


def changed_keys(keys: list[str], olds: Mapping[str, Any], news: Mapping[str, Any],
                 ignore_none: frozenset[str] = frozenset()) -> list[str]:
    """Input keys whose new value differs from the stored one (unknown counts as a change)."""
    changed = []
    for key in keys:
        new = news.get(key)
        if key in ignore_none and new is None:
            continue
        if is_unknown(new) or not same_value(olds.get(key), new):
            changed.append(key)
    return changed


def same_value(old: Any, new: Any) -> bool:
    """Equality that ignores the engine's int-to-float conversion."""
    if isinstance(old, bool) or isinstance(new, bool):
        return old is new
    return bool(old == new)


# `pulumi refresh` and `pulumi destroy` configure providers with the settings saved by the last
# `pulumi up`, not the stack's current config. `refresh --run-program` configures them from the
# program and saves that, and it deletes nothing; `destroy --run-program` is not named: in a stack
# with a protected resource the program does not declare, it deletes the provider (or the stack, its
# parent) that resource still needs: an invalid checkpoint (pulumi/pulumi#21277; test_engine_stale_token).
SAVED_TOKEN_HINT = (
    "If the token was changed since the last `pulumi up`: `pulumi refresh` and `pulumi destroy` still use the "
    "one saved in the stack, so run `pulumi refresh --run-program` first (it reads with the current config "
    "and saves it in the stack), then the command again."
)


def describe_failure(action: str, what: str, error: SpaceInvoicesError, *,
                     saved_settings: bool = False) -> SpaceInvoicesError:
    """The same error with the resource and the operation in front of its message. ``saved_settings``:
    the step is one that refresh or destroy runs (read, delete), so a rejected token also says what to
    do after a rotation."""
    text = f"{action} {what}: {error}"
    if saved_settings and isinstance(error, AuthenticationError):
        text += f" {SAVED_TOKEN_HINT}"
    error.args = (text,)
    return error

T = TypeVar("T")


def run_step(action: str, what: str, step: Callable[[], T], *, saved_settings: bool = False) -> T:
    try:
        return step()
    except (APIError, APIConnectionError) as error:
        raise describe_failure(action, what, error, saved_settings=saved_settings) from None


def create_or_adopt(what: str, *, read: Callable[[], T | None], post: Callable[[], T], adopt: Callable[[T | None], T],
                    adopting: Callable[[T], str], already_exists: str, creating: str = "creating") -> T:
    """Create reads first and adopts what exists, so a retried create never duplicates.

    ``read`` (GET; None when there is nothing), then either ``adopt(found)`` after logging
    ``adopting(found)``, or ``post()``. A POST whose answer was lost is read back before anything else:
    nothing there, the POST is sent once more; something there, it is adopted. An ``already_exists``
    error (made concurrently by another run) is adopted too, as ``adopt(None)``: ``adopt`` reads it.
    """
    live = run_step("reading", what, read)
    if live is not None:
        log_info(adopting(live))
        return adopt(live)
    try:
        return post()
    except APIConnectionError as error:
        if not error.may_have_applied:
            raise describe_failure(creating, what, error) from None
        # The answer was lost: read back before deciding to send the POST again.
        found = run_step("reading back", what, read)
        if found is None:
            return run_step(creating, what, post)
    except APIError as error:
        if error.code != already_exists:
            raise describe_failure(creating, what, error) from None
        found = None  # created concurrently by another run: adopt it
    return adopt(found)


def missing(action: str, what: str, path: str, message: str) -> SpaceInvoicesError:
    """The error of a read that found nothing where something must be (after a write, or for an update),
    with the step in front."""
    return describe_failure(action, what, NotFoundError.missing(path, message))


_yield_marker: asyncio.Future[None] | None = None


def let_registrations_start() -> None:
    """Called by each resource's constructor: make the program's final wait await registrations in turn.

    A program that declares its resources in top-level code (as most do) only queues their
    registrations; the SDK's final wait (``wait_for_rpcs``) then finds no RPC in flight and waits on
    every pending output at once, again each time one resolves, which is quadratic in the number of
    resources (benchmarks/README.md has the figures). One RPC-like task in the SDK's
    list, a single yield, makes the wait pump the loop first: every queued registration starts and
    is awaited one by one, as ``pulumi.run(lambda: asyncio.sleep(0))`` at the end of the program
    did. Uses the SDK's private RPC manager; if that or the running loop is missing, it does nothing.
    """
    global _yield_marker
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    # One marker per program run: another program in this process (the Automation API) has its own loop.
    if _yield_marker is not None and not _yield_marker.done() and _yield_marker.get_loop() is loop:
        return
    try:
        from pulumi.runtime.settings import _get_rpc_manager

        rpcs = _get_rpc_manager().rpcs
    except (ImportError, AttributeError):
        return
    _yield_marker = loop.create_task(asyncio.sleep(0))
    rpcs.append(_yield_marker)


def log_info(message: str) -> None:
    pulumi.log.info(message)

