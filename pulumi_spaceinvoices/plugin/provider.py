"""The plugin's provider: the engine's requests, translated to the core and back.

Each resource of the two resource modules is served by its dynamic provider class, the core
(check, diff, create, read, update, delete with plain snake_case dicts); this module only converts
PropertyValues to those dicts and back (camelCase, numbers, unknowns, secrets from the schema), keeps
preview free of calls, and runs the core's blocking HTTP off the event loop. The onboarding link,
which has no dynamic resource, is modelled here over the core's ``get_onboarding_link``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar, cast

from pulumi.dynamic import CheckFailure as DynamicCheckFailure
from pulumi.dynamic import CheckResult, ConfigureRequest, CreateResult, DiffResult, ReadResult, UpdateResult
from pulumi.dynamic.config import Config
from pulumi.provider.experimental.property_value import Computed, PropertyValue
from pulumi.provider.experimental.provider import (
    CheckFailure,
    CheckRequest,
    CheckResponse,
    ConfigureResponse,
    CreateRequest,
    CreateResponse,
    DeleteRequest,
    DiffRequest,
    DiffResponse,
    GetSchemaRequest,
    GetSchemaResponse,
    InvokeRequest,
    InvokeResponse,
    PropertyDiff,
    PropertyDiffKind,
    Provider,
    ReadRequest,
    ReadResponse,
    UpdateRequest,
    UpdateResponse,
)
from pulumi.provider.experimental.provider import ConfigureRequest as PluginConfigureRequest

from .. import core
from .. import onboarding_entry as entry_core
from .. import onboarding_link as link_core
from .. import organization_connect_account as account_core
from .. import payment_intent as payment_core
from .. import stripe_connect_config as connect_core
from ..errors import ConfigurationError
from ..settings import (
    CONFIG_API_URL,
    CONFIG_ONBOARDING_URL,
    CONFIG_SIGNING_KEY,
    CONFIG_TOKEN,
    resolve_api_url,
    resolve_onboarding_url,
    resolve_signing_key,
    resolve_token,
)
from . import schema
from ._names import camel, snake

T = TypeVar("T")
UNKNOWN = core.UNKNOWN


# -- PropertyValues <-> the core's plain values -------------------------------------------------

def plain(value: PropertyValue) -> Any:
    """A PropertyValue as the core sees values: plain Python, unknown as the engine's marker."""
    inner = value.value
    if isinstance(inner, Computed):
        return UNKNOWN
    if isinstance(inner, Mapping):
        return {key: plain(item) for key, item in inner.items()}
    if isinstance(inner, Sequence) and not isinstance(inner, str):
        return [plain(item) for item in inner]
    return inner


def to_core(properties: Mapping[str, PropertyValue]) -> tuple[dict[str, Any], set[str]]:
    """Top-level names to snake_case; also the names that arrived secret (kept secret on the way back)."""
    values = {snake(key): plain(value) for key, value in properties.items()}
    secret = {snake(key) for key, value in properties.items() if value.contains_secret()}
    return values, secret


def property_value(value: Any) -> PropertyValue:
    if isinstance(value, PropertyValue):
        return value
    if value is None:
        return PropertyValue.null()
    if isinstance(value, bool):
        return PropertyValue(value)
    if isinstance(value, (int, float)):
        return PropertyValue(float(value))
    if isinstance(value, str):  # unknown stays the engine's marker string: the SDK cannot marshal Computed
        return PropertyValue(value)
    if isinstance(value, Mapping):
        return PropertyValue({str(k): property_value(v) for k, v in value.items()})
    if isinstance(value, Sequence):
        return PropertyValue([property_value(v) for v in value])
    raise TypeError(f"no property value for {type(value).__name__}")


def from_core(values: Mapping[str, Any], kind: schema.Member, secret: Collection[str] = frozenset(),
              *, drop_none: bool = False) -> dict[str, PropertyValue]:
    """Core values back to camelCase PropertyValues, secrets marked from the schema (and as they arrived)."""
    out = {}
    for key, value in values.items():
        if drop_none and value is None:
            continue
        prop = property_value(value)
        if key in kind.secrets or key in secret:
            prop = prop.with_secret(True)
        out[camel(key)] = prop
    return out


async def off_loop(step: Callable[..., T], *args: Any) -> T:
    """The core's blocking HTTP in a worker thread, so steps the engine runs in parallel overlap."""
    return await asyncio.to_thread(step, *args)


# -- Resources ----------------------------------------------------------------------------------

class CoreResource:
    """A resource served by its dynamic provider class (the core), unchanged."""

    def __init__(self, kind: schema.Member, provider: core.SpaceInvoicesProvider, output_only: list[str]) -> None:
        self.kind = kind
        self.provider = provider
        self.output_only = output_only

    async def check(self, request: CheckRequest) -> CheckResponse:
        olds, _ = to_core(request.old_inputs)
        news, secret = to_core(request.new_inputs)
        result: CheckResult = await off_loop(self.provider.check, olds, news)
        failures = [CheckFailure(camel(f.property), f.reason) for f in result.failures or []]
        return CheckResponse(from_core(result.inputs, self.kind, secret, drop_none=True), failures)

    def _diff(self, resource_id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return self.provider.diff(resource_id, olds, news)

    async def diff(self, request: DiffRequest) -> DiffResponse:
        olds, _ = to_core(request.old_state)
        news, _ = to_core(request.new_inputs)
        result = self._diff(request.resource_id, olds, news)
        replaces = list(result.replaces or [])
        shown = shown_changes(self.kind.input_keys, olds, news, replaces) if result.changes else []
        detailed = {camel(key): PropertyDiff(PropertyDiffKind.UPDATE_REPLACE if key in replaces
                                             else PropertyDiffKind.UPDATE, True) for key in shown}
        return DiffResponse(changes=bool(result.changes), replaces=[camel(k) for k in replaces],
                            stables=[camel(k) for k in result.stables or []],
                            delete_before_replace=bool(result.delete_before_replace),
                            diffs=[camel(k) for k in shown], detailed_diff=detailed)

    async def create(self, request: CreateRequest) -> CreateResponse:
        props, secret = to_core(request.properties)
        if request.preview:  # no side effect in preview: the computed outputs are not known yet
            return CreateResponse(None, from_core({**props, **dict.fromkeys(self.output_only, UNKNOWN)},
                                                  self.kind, secret))
        result: CreateResult = await off_loop(self.provider.create, props)
        return CreateResponse(result.id, from_core(result.outs or {}, self.kind, secret))

    async def read(self, request: ReadRequest) -> ReadResponse:
        props, secret = to_core(request.properties)
        result: ReadResult = await off_loop(self.provider.read, request.resource_id, props)
        if not result.id:
            return ReadResponse(None, {}, {})
        inputs = dict(result.inputs or {})
        if not props:
            # `pulumi import` and `get`: the engine prints the inputs as code, secrets in plain text, so
            # secret inputs stay out of them (the outputs keep them, encrypted); declare them from config.
            inputs = {key: value for key, value in inputs.items() if key not in self.kind.secrets}
        return ReadResponse(result.id, from_core(result.outs or {}, self.kind, secret),
                            from_core(inputs, self.kind, secret, drop_none=True))

    async def update(self, request: UpdateRequest) -> UpdateResponse:
        olds, old_secret = to_core(request.olds)
        news, secret = to_core(request.news)
        secret |= old_secret
        if request.preview:  # what the diff calls stable is kept; the other computed outputs are unknown
            stables = set(self._diff(request.resource_id, olds, news).stables or [])
            unknown = {key: UNKNOWN for key in self.output_only if key not in stables}
            return UpdateResponse(from_core({**olds, **news, **unknown}, self.kind, secret))
        result: UpdateResult = await off_loop(self.provider.update, request.resource_id, olds, news)
        return UpdateResponse(from_core(result.outs or {}, self.kind, secret))

    async def delete(self, request: DeleteRequest) -> None:
        props, _ = to_core(request.properties)
        await off_loop(self.provider.delete, request.resource_id, props)


def shown_changes(keys: list[str], olds: Mapping[str, Any], news: Mapping[str, Any], replaces: list[str]) -> list[str]:
    """The inputs to show as changed in a diff the core decided on (display only: the decision is the core's)."""
    return [key for key in keys if key in replaces or core.is_unknown(news.get(key))
            or (news.get(key) is not None and not core.same_value(olds.get(key), news.get(key)))]


class OnboardingLinkResource:
    """The onboarding link as a resource, so that no link is ever made in preview (an invoke would run
    there whenever its argument is known) and each ``up`` while onboarding is incomplete makes a new one.

    Its diff asks for an update while the stored link says onboarding is incomplete; Create and
    Update outside preview call the core's ``get_onboarding_link`` (read the account; a link only
    when onboarding is incomplete). Refresh reads the account (no link); delete calls nothing.
    """

    kind = schema.onboarding_link_resource()

    def __init__(self, settings: Callable[[], tuple[str | None, str]]) -> None:
        self.settings = settings

    async def check(self, request: CheckRequest) -> CheckResponse:
        news, secret = to_core(request.new_inputs)
        inputs, failures = core.check_inputs(
            account_core.inputs_model(), {"organization_id": news.get("organization_id")}, defaults={},
            required=frozenset({"organization_id"}), output_keys=frozenset())
        failures += [DynamicCheckFailure(key, "is not a property of this resource")
                     for key in news if key != "organization_id" and key not in self.kind.output_keys]
        inputs = {"organization_id": inputs.get("organization_id")}
        return CheckResponse(from_core(inputs, self.kind, secret, drop_none=True),
                             [CheckFailure(camel(f.property), f.reason) for f in failures])

    async def diff(self, request: DiffRequest) -> DiffResponse:
        olds, _ = to_core(request.old_state)
        news, _ = to_core(request.new_inputs)
        moved = not core.same_value(olds.get("organization_id"), news.get("organization_id"))
        stale = olds.get("onboarding_complete") is not True  # a link made earlier has expired or was used
        diffs = ["organizationId"] if moved else ["url"] if stale else []
        return DiffResponse(changes=bool(diffs), diffs=diffs,
                            detailed_diff={key: PropertyDiff(PropertyDiffKind.UPDATE, key == "organizationId")
                                           for key in diffs})

    def _fetch(self, organization_id: str) -> dict[str, Any]:
        token, api_url = self.settings()
        result = link_core.get_onboarding_link(organization_id, access_token=token, api_url=api_url)
        return dataclasses.asdict(result)

    def _pending(self, props: Mapping[str, Any]) -> dict[str, Any]:
        """Preview: the organization as given, every other output unknown."""
        return {key: props.get(key) if key in self.kind.input_keys else UNKNOWN for key in self.kind.output_keys}

    async def create(self, request: CreateRequest) -> CreateResponse:
        props, secret = to_core(request.properties)
        if request.preview:
            return CreateResponse(None, from_core(self._pending(props), self.kind, secret))
        outs = await off_loop(self._fetch, props["organization_id"])
        return CreateResponse(outs["organization_id"], from_core(outs, self.kind, secret))

    async def update(self, request: UpdateRequest) -> UpdateResponse:
        news, secret = to_core(request.news)
        if request.preview:
            return UpdateResponse(from_core(self._pending(news), self.kind, secret))
        return UpdateResponse(from_core(await off_loop(self._fetch, news["organization_id"]), self.kind, secret))

    async def read(self, request: ReadRequest) -> ReadResponse:
        props, secret = to_core(request.properties)
        org_id = props.get("organization_id") or request.resource_id
        account: ReadResult = await off_loop(account_core.OrganizationConnectAccountProvider().read, org_id,
                                             {"organization_id": org_id})
        if not account.id:
            return ReadResponse(None, {}, {})
        complete = (account.outs or {}).get("charges_enabled") is True
        outs = {"organization_id": account.id, "onboarding_complete": complete,
                "url": None if complete else props.get("url"), "expires_at": None if complete else props.get("expires_at")}
        return ReadResponse(account.id, from_core(outs, self.kind, secret),
                            from_core({"organization_id": account.id}, self.kind, secret))

    async def delete(self, request: DeleteRequest) -> None:
        return None  # a link is not an object in Space Invoices: it expires by itself


# -- The provider ---------------------------------------------------------------------------------

class SpaceInvoicesPlugin(Provider):
    """The ``spaceinvoices`` provider: one Space Invoices account per provider instance."""

    def __init__(self) -> None:
        self._config: dict[str, Any] = {}
        self._resources: dict[str, CoreResource | OnboardingLinkResource] = {
            schema.stripe_connect_config().token: CoreResource(
                schema.stripe_connect_config(), connect_core.StripeConnectConfigProvider(), connect_core.OUTPUT_ONLY_KEYS),
            schema.organization_connect_account().token: CoreResource(
                schema.organization_connect_account(), account_core.OrganizationConnectAccountProvider(),
                account_core.OUTPUT_ONLY_KEYS),
            OnboardingLinkResource.kind.token: OnboardingLinkResource(self.settings),
        }

    def settings(self) -> tuple[str | None, str]:
        """This instance's token (None: the environment's, or the error that names both ways) and URL."""
        return resolve_token(None, self._config), resolve_api_url(None, self._config)

    def _resource(self, type_token: str) -> CoreResource | OnboardingLinkResource:
        try:
            return self._resources[type_token]
        except KeyError:
            raise ValueError(f"unknown resource type {type_token}") from None

    async def get_schema(self, request: GetSchemaRequest) -> GetSchemaResponse:
        return GetSchemaResponse(schema.schema_json())

    async def check_config(self, request: CheckRequest) -> CheckResponse:
        failures = []
        checks = ((schema.CONFIG_TOKEN, resolve_token), (schema.CONFIG_API_URL, resolve_api_url),
                  (schema.CONFIG_ONBOARDING_URL, resolve_onboarding_url), (schema.CONFIG_SIGNING_KEY, resolve_signing_key))
        inputs = dict(request.new_inputs)
        for key, resolve in checks:
            value = request.new_inputs.get(key)
            try:
                if value is not None and isinstance(value.value, str) and value.value:
                    resolve(value.value)
            except ConfigurationError as error:
                failures.append(CheckFailure(key, str(error)))
            if value is not None and key in (schema.CONFIG_TOKEN, schema.CONFIG_SIGNING_KEY):
                inputs[key] = value.with_secret(True)
        return CheckResponse(inputs, failures)

    async def diff_config(self, request: DiffRequest) -> DiffResponse:
        keys = (schema.CONFIG_TOKEN, schema.CONFIG_API_URL, schema.CONFIG_ONBOARDING_URL, schema.CONFIG_SIGNING_KEY)
        changed = [key for key in keys if plain(request.old_state.get(key, PropertyValue.null()))
                   != plain(request.new_inputs.get(key, PropertyValue.null()))]
        # Never a replace: resources keep their ids whatever the provider's settings; an update makes the
        # engine configure the provider with the new ones (the signing key of entry URLs, say).
        return DiffResponse(changes=bool(changed), diffs=changed)

    async def configure(self, request: PluginConfigureRequest) -> ConfigureResponse:
        values = {CONFIG_TOKEN: _known_text(request.args.get(schema.CONFIG_TOKEN)),
                  CONFIG_API_URL: _known_text(request.args.get(schema.CONFIG_API_URL))}
        onboarding = {CONFIG_ONBOARDING_URL: _known_text(request.args.get(schema.CONFIG_ONBOARDING_URL)),
                      CONFIG_SIGNING_KEY: _known_text(request.args.get(schema.CONFIG_SIGNING_KEY))}
        self._config = {key: value for key, value in {**values, **onboarding}.items() if value}
        # The core's own settings (one client per process; the engine starts a process per provider).
        core.SpaceInvoicesProvider().configure(ConfigureRequest(Config(values, "spaceinvoices")))
        return ConfigureResponse(accept_secrets=True, supports_preview=True, accept_resources=False,
                                 accept_outputs=False)

    async def check(self, request: CheckRequest) -> CheckResponse:
        return await self._resource(request.type).check(request)

    async def diff(self, request: DiffRequest) -> DiffResponse:
        return await self._resource(request.type).diff(request)

    async def create(self, request: CreateRequest) -> CreateResponse:
        return await self._resource(request.type).create(request)

    async def read(self, request: ReadRequest) -> ReadResponse:
        return await self._resource(request.type).read(request)

    async def update(self, request: UpdateRequest) -> UpdateResponse:
        return await self._resource(request.type).update(request)

    async def delete(self, request: DeleteRequest) -> None:
        await self._resource(request.type).delete(request)

    async def invoke(self, request: InvokeRequest) -> InvokeResponse:
        args, _ = to_core(request.args)
        if request.tok == schema.get_onboarding_entry_url().token:  # no API call: signing only
            kind = schema.get_onboarding_entry_url()
            # The engine's arguments are unchecked: the function checks them, naming the argument.
            result: Any = entry_core.get_onboarding_entry_url(
                cast(str, args.get("organization_id")), base_url=args.get("base_url") or self._config.get(CONFIG_ONBOARDING_URL),
                signing_key=args.get("signing_key") or self._config.get(CONFIG_SIGNING_KEY),
                valid_until=args.get("valid_until"))
            return InvokeResponse(from_core(dataclasses.asdict(result), kind))
        kind = schema.get_payment_intent()
        if request.tok != kind.token:
            raise ValueError(f"unknown function {request.tok}")
        _, api_url = self.settings()
        result = await off_loop(lambda: payment_core.get_payment_intent(cast(str, args.get("shareable_id")),
                                                                         api_url=api_url))
        return InvokeResponse(from_core(dataclasses.asdict(result), kind))


def _known_text(value: PropertyValue | None) -> str | None:
    return value.value if value is not None and isinstance(value.value, str) and value.value else None
