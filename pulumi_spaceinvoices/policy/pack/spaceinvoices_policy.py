"""The Space Invoices policy pack's rules: CrossGuard policies over both adapters' resources.

Self-contained (only `pulumi_policy`), so the folder runs wherever `pulumi-policy` is installed and
`pulumi policy publish` can upload it. Every rule reads inputs only, never calls the API, and never
puts a key's value in a message: only the resource, the property, the rule and what to do.

The two adapters spell the same resources differently:
- dynamic providers: `pulumi-python:dynamic/spaceinvoices:<Name>`, snake_case inputs;
- the plugin: `spaceinvoices:index:<Name>`, camelCase inputs.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

PACK_NAME = "spaceinvoices"
CONNECT, ACCOUNT, LINK = "StripeConnectConfig", "OrganizationConnectAccount", "OnboardingLink"
DYNAMIC_PREFIX = "pulumi-python:dynamic/spaceinvoices:"
NATIVE_PREFIX = "spaceinvoices:index:"
DEFAULT_LIVE_STACKS = ["production", "prod-*"]
UNKNOWN = object()  # an input not known during preview: a rule that needs it says nothing


# -- resources -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Resource:
    """One Space Invoices resource as a rule sees it: its kind, adapter, name, URN and inputs."""

    kind: str  # CONNECT, ACCOUNT or LINK
    native: bool
    name: str
    urn: str
    props: Mapping[str, Any]
    protect: bool = False  # the resource option (retainOnDelete is not sent to policy packs)

    def get(self, snake: str) -> Any:
        """The input `snake` (spelled camelCase on the plugin), None when absent, UNKNOWN when not known yet."""
        key = camel(snake) if self.native else snake
        try:
            return self.props.get(key)
        except UnknownValueError:
            return UNKNOWN

    def prop(self, snake: str) -> str:
        """The property's name as the user's program spells it."""
        return camel(snake) if self.native else snake

    @property
    def label(self) -> str:
        return f"{self.kind} '{self.name}'"


def camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.title() for part in rest)


def kind_of(resource_type: str, urn: str) -> tuple[str, bool] | None:
    """(kind, native) of a Space Invoices resource, else None. The type token is what the engine
    sends; the URN's last type is looked at too, for an SDK that registers dynamic resources under
    the generic `pulumi-python:dynamic:Resource`."""
    for token in (resource_type, urn.split("::")[2].rsplit("$", 1)[-1] if urn.count("::") >= 3 else ""):
        if token.startswith(NATIVE_PREFIX):
            name = token[len(NATIVE_PREFIX):]
            if name in (CONNECT, ACCOUNT, LINK):
                return name, True
        elif token.startswith(DYNAMIC_PREFIX):
            name = token[len(DYNAMIC_PREFIX):]
            if name in (CONNECT, ACCOUNT):
                return name, False
    return None


def resource_of(resource_type: str, urn: str, name: str, props: Mapping[str, Any],
                protect: bool = False) -> Resource | None:
    found = kind_of(resource_type, urn)
    return None if found is None else Resource(found[0], found[1], name, urn, props, protect)


def current_stack() -> str:
    """The stack being previewed: the language host (or the CLI) starts the pack with PULUMI_STACK."""
    return os.environ.get("PULUMI_STACK", "")


def is_live(stack: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(stack, pattern) for pattern in patterns)


# -- config ----------------------------------------------------------------------------------------------
class PackConfigError(ValueError):
    """The pack's config is malformed; the message names the policy and the key."""


def _strings(policy: str, key: str, value: Any) -> list[str]:
    if not isinstance(value, list):
        raise PackConfigError(f"{policy}: '{key}' must be a list of strings")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise PackConfigError(f"{policy}: '{key}[{index}]' must be a string, not {json.dumps(item)}")
    return list(value)


def _number(policy: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PackConfigError(f"{policy}: '{key}' must be a number")
    return float(value)


def _boolean(policy: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise PackConfigError(f"{policy}: '{key}' must be true or false")
    return value


def _url_base(policy: str, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise PackConfigError(f"{policy}: '{key}' must be a string")
    if value == "":
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise PackConfigError(f"{policy}: '{key}' must be an http(s) URL without query, like https://onboard.example.com")
    return value.rstrip("/")


LIVE_STACKS_SCHEMA = {
    "type": "array", "items": {"type": "string"}, "default": DEFAULT_LIVE_STACKS,
    "description": "Stack-name patterns (fnmatch: *, ?, [..]) of live stacks; every other stack is a test stack.",
}


@dataclass(frozen=True)
class Key:
    """One config key of a policy: its JSON schema (with its default) and how to read it."""

    schema: dict[str, Any]
    read: Callable[[str, str, Any], Any]


def live_stacks_key() -> Key:
    return Key(LIVE_STACKS_SCHEMA, _strings)


# -- the rules -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    """A policy of this pack: name, why, default enforcement level, config keys, and its check."""

    name: str
    description: str
    level: EnforcementLevel
    keys: dict[str, Key]
    kinds: frozenset[str] = frozenset()  # the kinds of resource a resource rule looks at
    check: Callable[[Resource, dict[str, Any], str], Iterable[str]] | None = None  # resource rules
    check_stack: Callable[[list[tuple[Resource, str]], dict[str, Any]], Iterable[str]] | None = None

    def settings(self, raw: Mapping[str, Any] | None) -> dict[str, Any]:
        """The config with defaults, each value checked; PackConfigError names a bad key."""
        raw = dict(raw or {})
        unknown = sorted(set(raw) - set(self.keys))
        if unknown:
            raise PackConfigError(
                f"{self.name}: unknown config key '{unknown[0]}' (this policy takes: {', '.join(sorted(self.keys))})")
        settings = {key: spec.read(self.name, key, raw.get(key, spec.schema.get("default")))
                    for key, spec in self.keys.items()}
        if "minPercent" in settings and settings["minPercent"] > settings["maxPercent"]:
            raise PackConfigError(f"{self.name}: 'minPercent' ({settings['minPercent']:g}) is greater than "
                                  f"'maxPercent' ({settings['maxPercent']:g})")
        return settings


def check_live_keys(resource: Resource, settings: dict[str, Any], stack: str) -> Iterable[str]:
    if resource.kind != CONNECT:
        return
    key = resource.get("public_key")
    if not isinstance(key, str):
        return
    live = is_live(stack, settings["liveStacks"])
    want = "pk_live_" if live else "pk_test_"
    if not key.startswith(want):
        which = "a live stack" if live else "not a live stack"
        yield (f"{resource.label}: '{resource.prop('public_key')}' must be a {'live' if live else 'test'} key "
               f"({want}...) because stack '{stack}' is {which} (liveStacks: {', '.join(settings['liveStacks'])}); "
               f"use the {'live' if live else 'test'} keys of the Stripe platform account")


def check_onboarding_urls(resource: Resource, settings: dict[str, Any], stack: str) -> Iterable[str]:
    if resource.kind != CONNECT:
        return
    base: str = settings["onboardingBaseUrl"]
    hosts: list[str] = list(settings["allowedHosts"])
    if base:
        hosts.append(urlsplit(base).hostname or "")
    for snake, path in (("refresh_url", "/refresh"), ("return_url", "/return")):
        url = resource.get(snake)
        if not isinstance(url, str):
            continue
        where = f"{resource.label}: '{resource.prop(snake)}'"
        parts = urlsplit(url)
        if base:
            if url.rstrip("/") != base + path:
                yield f"{where} must be {base}{path}, the onboarding endpoint's (onboardingBaseUrl)"
            continue
        if settings["requireHttps"] and parts.scheme != "https":
            yield f"{where} must use https"
        host = (parts.hostname or "").lower()
        if hosts and not any(fnmatch.fnmatchcase(host, pattern.lower()) for pattern in hosts):
            yield f"{where} is on host '{host}', which is not in allowedHosts ({', '.join(hosts)})"


def check_application_fee(resource: Resource, settings: dict[str, Any], stack: str) -> Iterable[str]:
    if resource.kind != CONNECT:
        return
    fee = resource.get("application_fee")
    if isinstance(fee, bool) or not isinstance(fee, (int, float)):
        return
    low, high = settings["minPercent"], settings["maxPercent"]
    if not low <= fee <= high:
        yield (f"{resource.label}: '{resource.prop('application_fee')}' is {fee:g}%, outside the allowed "
               f"{low:g}% to {high:g}% (minPercent, maxPercent)")


def check_protected(resource: Resource, settings: dict[str, Any], stack: str) -> Iterable[str]:
    if resource.kind != ACCOUNT or resource.protect or not is_live(stack, settings["liveStacks"]):
        return
    yield (f"{resource.label}: the 'protect' resource option must be set in live stack '{stack}': "
           f"a destroy or a removal from the program deactivates the merchant's Connect account")


def check_raw_links(resource: Resource, settings: dict[str, Any], stack: str) -> Iterable[str]:
    if resource.kind != LINK or not is_live(stack, settings["liveStacks"]):
        return
    yield (f"{resource.label}: an OnboardingLink in live stack '{stack}' puts a single-use link that expires "
           f"in minutes into outputs; hand out the signed entry URL instead: the "
           f"'spaceinvoices:index:getOnboardingEntryUrl' invoke (get_onboarding_entry_url in the dynamic providers)")


def check_one_per_object(resources: list[tuple[Resource, str]], settings: dict[str, Any]) -> Iterable[str]:
    """Two Connect configs of one account, or two accounts of one organization, fight over one object.
    Resources are grouped by their provider (an explicit provider is one Space Invoices account)."""
    configs: dict[str, list[Resource]] = {}
    accounts: dict[tuple[str, str], list[Resource]] = {}
    for resource, provider in resources:
        if resource.kind == CONNECT:
            configs.setdefault(provider, []).append(resource)
        elif resource.kind == ACCOUNT:
            org = resource.get("organization_id")
            if isinstance(org, str) and org:
                accounts.setdefault((provider, org), []).append(resource)
    for group in configs.values():
        if len(group) > 1:
            names = ", ".join(sorted(f"'{r.name}'" for r in group))
            yield (f"{len(group)} StripeConnectConfig resources ({names}) manage the one Connect config of the same "
                   f"Space Invoices account: keep one per account (provider)")
    for (_, org), group in accounts.items():
        if len(group) > 1:
            names = ", ".join(sorted(f"'{r.name}'" for r in group))
            yield (f"OrganizationConnectAccount resources {names} have the same '{group[0].prop('organization_id')}' "
                   f"({org}): keep one resource per organization")


RULES: list[Rule] = [
    Rule("spaceinvoices-live-keys-in-live-stacks",
         "Live stacks (liveStacks patterns) use live Stripe keys (pk_live_), every other stack test keys (pk_test_).",
         EnforcementLevel.MANDATORY, {"liveStacks": live_stacks_key()}, kinds=frozenset({CONNECT}), check=check_live_keys),
    Rule("spaceinvoices-onboarding-urls",
         "refreshUrl and returnUrl use https on an allowed host, or point at the onboarding endpoint when its base "
         "URL is configured.",
         EnforcementLevel.MANDATORY, {
             "allowedHosts": Key({"type": "array", "items": {"type": "string"}, "default": [],
                                  "description": "Host patterns (fnmatch) the URLs may use; empty: any host."}, _strings),
             "onboardingBaseUrl": Key({"type": "string", "default": "",
                                       "description": "The onboarding endpoint's base URL: the URLs must be "
                                                      "<base>/refresh and <base>/return."}, _url_base),
             "requireHttps": Key({"type": "boolean", "default": True,
                                  "description": "Refuse http URLs."}, _boolean),
         }, kinds=frozenset({CONNECT}), check=check_onboarding_urls),
    Rule("spaceinvoices-application-fee",
         "The application fee (percent) is within the configured range.",
         EnforcementLevel.MANDATORY, {
             "minPercent": Key({"type": "number", "default": 0, "description": "Lowest fee, percent."}, _number),
             "maxPercent": Key({"type": "number", "default": 10, "description": "Highest fee, percent."}, _number),
         }, kinds=frozenset({CONNECT}), check=check_application_fee),
    Rule("spaceinvoices-protect-live-accounts",
         "Every OrganizationConnectAccount in a live stack has the protect option: a destroy deactivates a real "
         "merchant's account. (retainOnDelete is not sent to policy packs by the engine, so it cannot count.)",
         EnforcementLevel.MANDATORY, {"liveStacks": live_stacks_key()}, kinds=frozenset({ACCOUNT}), check=check_protected),
    Rule("spaceinvoices-one-resource-per-object",
         "One StripeConnectConfig per Space Invoices account (provider), one OrganizationConnectAccount per "
         "organization: two resources would fight over one API object.",
         EnforcementLevel.MANDATORY, {}, check_stack=check_one_per_object),
    Rule("spaceinvoices-no-raw-onboarding-links-in-live-stacks",
         "No OnboardingLink resource in a live stack: hand out the signed entry URL (getOnboardingEntryUrl).",
         EnforcementLevel.ADVISORY, {"liveStacks": live_stacks_key()}, kinds=frozenset({LINK}), check=check_raw_links),
]
RULES_BY_NAME = {rule.name: rule for rule in RULES}


def config_errors(config: Mapping[str, Mapping[str, Any] | None]) -> list[str]:
    """What is wrong with the pack's whole config (policy name -> its properties), one line per
    problem naming the policy and the key; [] when it is good. "all" is the CLI's key for every policy."""
    errors = []
    for name, properties in config.items():
        rule = RULES_BY_NAME.get(name)
        if rule is None:
            if name != "all":
                errors.append(f"unknown policy '{name}' in the policy pack config (this pack has: "
                              f"{', '.join(RULES_BY_NAME)})")
            continue
        try:
            rule.settings(properties)
        except PackConfigError as error:
            errors.append(str(error))
    return errors


_settings_cache: dict[tuple[str, str], dict[str, Any]] = {}


def settings_of(rule: Rule, raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """rule.settings, once per distinct config (rules run once per resource)."""
    key = (rule.name, json.dumps(dict(raw or {}), sort_keys=True))
    if key not in _settings_cache:
        _settings_cache[key] = rule.settings(raw)
    return _settings_cache[key]


def _message(rule: Rule, text: str) -> str:
    return f"[{rule.name}] {text}"


def to_policy(rule: Rule) -> ResourceValidationPolicy | StackValidationPolicy:
    """The rule as a pulumi-policy policy with its schema and default level."""
    schema = PolicyConfigSchema({key: spec.schema for key, spec in rule.keys.items()}) if rule.keys else None
    if rule.check_stack is not None:
        check_stack = rule.check_stack

        def validate_stack(args: StackValidationArgs, report_violation: ReportViolation) -> None:
            settings = settings_of(rule, args.get_config())
            found = []
            for r in args.resources:
                resource = resource_of(r.resource_type, r.urn, r.name, r.props)
                if resource is not None:
                    found.append((resource, r.provider.urn if r.provider is not None else ""))
            for text in check_stack(found, settings):
                report_violation(_message(rule, text), None)

        return StackValidationPolicy(rule.name, rule.description, validate_stack, rule.level, schema)

    check = rule.check
    assert check is not None

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        resource = resource_of(args.resource_type, args.urn, args.name, args.props, bool(args.opts.protect))
        if resource is None:
            return
        for text in check(resource, settings_of(rule, args.get_config()), current_stack()):
            report_violation(_message(rule, text), args.urn)

    return ResourceValidationPolicy(rule.name, rule.description, validate, rule.level, schema)


def _install_servicer() -> None:
    """Refuse a malformed pack config when the engine sends it (before any resource), naming the key,
    and hand each resource to its kind's rules only. pulumi-policy has no hook for either, so its
    servicer is subclassed; if its private class moves, the config check still runs in each rule
    (settings_of, failing that rule instead) and every rule sees every resource (slower, same result)."""
    import grpc
    from google.protobuf import json_format
    from pulumi.runtime import proto
    from pulumi_policy import policy as sdk

    base = getattr(sdk, "_PolicyAnalyzerServicer", None)
    if base is None or not hasattr(base, "Configure"):
        return

    empty, remediated = proto.AnalyzeResponse, proto.RemediateResponse  # what the SDK's servicer answers
    analyze = base.Analyze
    configured: list[bool] = []

    class CheckedServicer(base):  # type: ignore[misc, valid-type]
        """Also runs each resource through only the rules of its kind: the SDK deserializes a
        resource's inputs once per policy, so an account would otherwise pay for five rules."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._si_lock = threading.Lock()
            self._si_views: dict[str, Any] | None = None

        def _view(self, kind: str) -> Any:
            """A shallow copy of this servicer holding only `kind`'s rules (made after Configure and
            ConfigureStack, whose config it shares); this servicer when the SDK's field moved."""
            with self._si_lock:
                if self._si_views is None:
                    policies = getattr(self, "_PolicyAnalyzerServicer__policies", None)
                    views: dict[str, Any] = {}
                    for k in (CONNECT, ACCOUNT, LINK):
                        view = copy.copy(self)
                        if policies is not None:
                            view._PolicyAnalyzerServicer__policies = [
                                p for p in policies if p.name not in RULES_BY_NAME or k in RULES_BY_NAME[p.name].kinds
                                or RULES_BY_NAME[p.name].check is None]
                        views[k] = view
                    self._si_views = views
                return self._si_views[kind]

        def _configure_runtime_settings(self) -> None:
            """The SDK re-reads the environment into pulumi's runtime settings on every call (a
            signature inspection each time); it never changes within this process, so once."""
            if not configured:
                super()._configure_runtime_settings()
                configured.append(True)

        def Remediate(self, request: Any, context: Any) -> Any:  # noqa: N802
            """No rule of this pack remediates: answer at once (the engine asks for every resource)."""
            return remediated()

        def Analyze(self, request: Any, context: Any) -> Any:  # noqa: N802 (the gRPC method's name)
            found = kind_of(request.type, request.urn)
            if found is None:
                return empty()  # not a Space Invoices resource: no rule of this pack applies
            return analyze(self._view(found[0]), request, context)

        def Configure(self, request: Any, context: Any) -> Any:  # noqa: N802
            config = {name: json_format.MessageToDict(value.properties) for name, value in request.policyConfig.items()}
            errors = config_errors(config)
            if errors:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                              "the spaceinvoices policy pack's config is invalid: " + "; ".join(errors))
            result = super().Configure(request, context)
            self._si_views = None
            return result

        def ConfigureStack(self, request: Any, context: Any) -> Any:  # noqa: N802
            result = super().ConfigureStack(request, context)
            self._si_views = None
            return result

    # The SDK's private class, replaced with its subclass (fetched with getattr above, for the same reason).
    setattr(sdk, "_PolicyAnalyzerServicer", CheckedServicer)  # noqa: B010 (mypy: a class cannot be assigned to)


def serve() -> None:
    """Run the pack (blocks): what the pack folder's __main__.py does."""
    _install_servicer()
    PolicyPack(PACK_NAME, [to_policy(rule) for rule in RULES], EnforcementLevel.ADVISORY)
