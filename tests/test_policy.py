"""The policy pack (pulumi_spaceinvoices/policy/pack) under the real CLI: `pulumi preview --policy-pack`
on stacks of both adapters (the dynamic providers: tests/programs/policy-dynamic; Pulumi YAML on the
plugin: a program written here per stack), against the sandbox, which must see no request.

Each adapter's stacks are previewed once per module (a few previews carry every rule's pass and
fail); the tests then read those outputs. Stack names decide live or test: `production` and
`prod-eu` are live under the default patterns, `dev` and `staging` are not.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from pulumi_spaceinvoices.policy import PACK_DIR, pack_path
from tests.realengine import PROGRAMS, Workspace
from tests.support import api_calls, live_secret_key

pytestmark = pytest.mark.engine

SECRET_TEST = "sk_test_PolicyPackSecret0000"
SECRET_LIVE = live_secret_key("PolicyPackSecret0000")
PK_TEST = "pk_test_PolicyPackPublic0000"
PK_LIVE = "pk_live_PolicyPackPublic0000"
ALLOWED = "https://platform.example.com/onboarding"
BASE = "https://onboard.example.com/si"

LIVE_KEYS = "spaceinvoices-live-keys-in-live-stacks"
URLS = "spaceinvoices-onboarding-urls"
FEE = "spaceinvoices-application-fee"
PROTECT = "spaceinvoices-protect-live-accounts"
ONE = "spaceinvoices-one-resource-per-object"
LINKS = "spaceinvoices-no-raw-onboarding-links-in-live-stacks"


def load_rules() -> Any:
    """The pack's rules module, as the pack's own __main__.py imports it (it is not a package)."""
    spec = importlib.util.spec_from_file_location("spaceinvoices_policy", PACK_DIR / "spaceinvoices_policy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("spaceinvoices_policy", module)
    spec.loader.exec_module(module)
    return module


rules = load_rules()


# -- what a stack declares, per scenario ----------------------------------------------------------------
def scenarios(orgs: list[str]) -> dict[str, dict[str, Any]]:
    """name -> the stack, its resources' inputs and the pack config it is previewed with."""
    a, b = orgs
    allowed = {URLS: {"allowedHosts": ["platform.example.com"]}}
    return {
        # every rule passes in a test stack: test keys, URLs on the allowed host, a fee in range
        "pass-dev": dict(stack="dev", live=False, fee=1.5, refresh=f"{ALLOWED}/refresh", ret=f"{ALLOWED}/return",
                         accounts={"acme": a, "globex": b}, protect=False, link=True, pack=allowed),
        # live keys, a host not allowed, a fee over 10%, two configs and two accounts of one organization
        "fail-staging": dict(stack="staging", live=True, fee=20, refresh="https://evil.example.net/refresh",
                             ret=f"{ALLOWED}/return", accounts={"acme": a, "acme-again": a}, protect=False,
                             second_connect=True, link=False, pack=allowed),
        # a live stack that passes: live keys, the onboarding endpoint's URLs, protected accounts
        "pass-production": dict(stack="production", live=True, fee=1.5, refresh=f"{BASE}/refresh", ret=f"{BASE}/return",
                                accounts={"acme": a}, protect=True, link=True,
                                pack={URLS: {"onboardingBaseUrl": BASE}}),
        # a live stack (prod-*) with test keys, an http URL and an unprotected account
        "fail-prod-eu": dict(stack="prod-eu", live=False, fee=1.5, refresh="http://platform.example.com/refresh",
                             ret=f"{ALLOWED}/return", accounts={"acme": a}, protect=False, link=True, pack=allowed),
    }


# The dev stack again, with config that changes the outcome.
CONFIG_RUNS = {
    # a lower fee ceiling flags 1.5%, and the rule set to advisory only warns
    "fee-advisory": {FEE: {"enforcementLevel": "advisory", "maxPercent": 1},
                     URLS: {"allowedHosts": ["platform.example.com"]}},
    # `dev` as a live pattern: its test keys now violate; the base URL moves the onboarding URLs
    "dev-is-live": {LIVE_KEYS: {"liveStacks": ["dev", "prod-*"]}, URLS: {"onboardingBaseUrl": BASE}},
    # malformed: a pattern that is not a string (the CLI checks the schema)
    "bad-pattern": {LIVE_KEYS: {"liveStacks": ["production", 7]}},
    # malformed: min > max, an unknown key, an unknown policy (the pack checks them when configured;
    # an unknown policy without an enforcementLevel the CLI refuses first: `invalid enforcement level ""`)
    "bad-keys": {FEE: {"minPercent": 5, "maxPercent": 2}, URLS: {"allowedHost": ["platform.example.com"]},
                 "spaceinvoices-aplication-fee": {"enforcementLevel": "mandatory", "maxPercent": 3}},
}


def dynamic_config(s: dict[str, Any], sandbox: Any, token: str) -> dict[str, Any]:
    return {
        "spaceinvoices:apiUrl": sandbox.url, "spaceinvoices:accessToken": token,
        "stripeSecretKey": SECRET_LIVE if s["live"] else SECRET_TEST, "publicKey": PK_LIVE if s["live"] else PK_TEST,
        "applicationFee": s["fee"], "refreshUrl": s["refresh"], "returnUrl": s["ret"], "accounts": s["accounts"],
        "protect": s["protect"], "secondConnect": s.get("second_connect", False),
    }


def native_program(folder: Path, s: dict[str, Any]) -> Path:
    """The scenario as Pulumi YAML on the plugin (YAML cannot branch, so each stack gets its own text)."""
    options = {"provider": "${account}"}
    connect = {"type": "spaceinvoices:index:StripeConnectConfig", "options": options, "properties": {
        "privateKey": "${stripeSecretKey}", "publicKey": PK_LIVE if s["live"] else PK_TEST,
        "applicationFee": s["fee"], "refreshUrl": s["refresh"], "returnUrl": s["ret"]}}
    resources: dict[str, Any] = {
        "account": {"type": "pulumi:providers:spaceinvoices",
                    "properties": {"accessToken": "${accessToken}", "apiUrl": "${apiUrl}"}},
        "connect": connect,
    }
    if s.get("second_connect"):
        resources["connectAgain"] = connect
    for name, org in s["accounts"].items():
        resources[name] = {"type": "spaceinvoices:index:OrganizationConnectAccount", "properties": {"organizationId": org},
                           "options": {**options, "protect": s["protect"], "dependsOn": ["${connect}"]}}
    if s["link"]:
        resources["acmeLink"] = {"type": "spaceinvoices:index:OnboardingLink", "options": options,
                                 "properties": {"organizationId": s["accounts"]["acme"]}}
    program = {"name": "spaceinvoices-policy-native", "runtime": "yaml",
               "config": {"apiUrl": {"type": "string"}, "accessToken": {"type": "string", "secret": True},
                          "stripeSecretKey": {"type": "string", "secret": True}},
               "resources": resources}
    folder.mkdir(parents=True, exist_ok=True)
    # (through JSON: no YAML aliases for the shared dicts, which Pulumi YAML refuses)
    (folder / "Pulumi.yaml").write_text(yaml.safe_dump(json.loads(json.dumps(program)), sort_keys=False))
    return folder


def preview(project: Any, config: dict[str, Any], root: Path, name: str) -> subprocess.CompletedProcess[str]:
    config_file = root / f"policy-config-{name}.json"
    config_file.write_text(json.dumps(config))
    return project.preview("--policy-pack", pack_path(), "--policy-pack-config", str(config_file), check=False)


def run_adapter(adapter: str, tmp_path_factory: Any, sandbox: Any) -> dict[str, Any]:
    """Every scenario of one adapter previewed once; the outputs by name, and the sandbox's calls."""
    sandbox.reset()
    account = sandbox.create_account(email=f"policy-{adapter}@example.com")
    orgs = [sandbox.create_organization(account.id, name=n) for n in ("Acme d.o.o.", "Globex d.o.o.")]
    root = tmp_path_factory.mktemp(f"policy-{adapter}")
    workspace = Workspace(root)
    sandbox.clear_requests()
    results: dict[str, Any] = {}
    projects = {}
    for name, s in scenarios(orgs).items():
        if adapter == "dynamic":
            project = workspace.project(PROGRAMS / "policy-dynamic", stack=s["stack"],
                                        config=dynamic_config(s, sandbox, account.token),
                                        secrets={"spaceinvoices:accessToken", "stripeSecretKey"})
        else:
            project = workspace.project(
                native_program(root / "sources" / name, s), stack=s["stack"],
                config={"apiUrl": sandbox.url, "accessToken": account.token,
                        "stripeSecretKey": SECRET_LIVE if s["live"] else SECRET_TEST},
                secrets={"accessToken", "stripeSecretKey"})
        projects[name] = project
        results[name] = preview(project, s["pack"], root, name)
    for name, config in CONFIG_RUNS.items():
        results[name] = preview(projects["pass-dev"], config, root, name)
    results["calls"] = api_calls(sandbox)
    return results


@pytest.fixture(scope="module")
def dynamic(tmp_path_factory: Any, sandbox: Any) -> dict[str, Any]:
    return run_adapter("dynamic", tmp_path_factory, sandbox)


@pytest.fixture(scope="module")
def native(tmp_path_factory: Any, sandbox: Any) -> dict[str, Any]:
    return run_adapter("native", tmp_path_factory, sandbox)


@pytest.fixture(params=["dynamic", "native"])
def runs(request: pytest.FixtureRequest) -> dict[str, Any]:
    return request.getfixturevalue(request.param)


def violations(output: str) -> dict[str, list[str]]:
    """Each policy's reported messages (our messages start with `[policy-name]`), by policy name."""
    found: dict[str, list[str]] = {}
    for match in re.finditer(r"\[(spaceinvoices-[a-z-]+)\] (.+)", output):
        found.setdefault(match.group(1), []).append(match.group(2))
    return found


def level_of(output: str, policy: str) -> str:
    """The enforcement level the CLI printed for `policy` ("mandatory" or "advisory")."""
    match = re.search(rf"\[(mandatory|advisory)\]\s+{re.escape(policy)}\b", output)
    assert match, f"no violation of {policy} in:\n{output}"
    return match.group(1)


def no_secret(result: subprocess.CompletedProcess[str]) -> None:
    for value in (SECRET_TEST, SECRET_LIVE, PK_TEST, PK_LIVE):
        assert value not in result.stdout


# -- passing stacks -------------------------------------------------------------------------------------
def test_a_test_stack_that_keeps_every_rule_previews_with_no_violation(runs):
    result = runs["pass-dev"]
    assert result.returncode == 0, result.stdout
    assert violations(result.stdout) == {}, result.stdout
    assert "Policies:" in result.stdout or "spaceinvoices@v" in result.stdout, "the pack ran"


def test_a_live_stack_with_live_keys_protected_accounts_and_the_endpoints_urls_passes(runs):
    result = runs["pass-production"]
    assert result.returncode == 0, result.stdout
    found = violations(result.stdout)
    assert set(found) <= {LINKS}, result.stdout


# -- violations -----------------------------------------------------------------------------------------
def test_mandatory_violations_in_a_test_stack_fail_preview_naming_resource_property_and_rule(runs, request):
    result = runs["fail-staging"]
    native = "native" in request.node.callspec.id
    key, fee, refresh, org = (("publicKey", "applicationFee", "refreshUrl", "organizationId") if native else
                              ("public_key", "application_fee", "refresh_url", "organization_id"))
    assert result.returncode != 0
    found = violations(result.stdout)
    assert {LIVE_KEYS, URLS, FEE, ONE} <= set(found), result.stdout
    assert all(level_of(result.stdout, p) == "mandatory" for p in (LIVE_KEYS, URLS, FEE, ONE))
    assert any(f"StripeConnectConfig 'connect': '{key}' must be a test key (pk_test_...)" in m and "'staging'" in m
               for m in found[LIVE_KEYS]), found
    assert any(f"'{refresh}' is on host 'evil.example.net'" in m for m in found[URLS]), found
    assert not any("'returnUrl'" in m or "'return_url'" in m for m in found[URLS]), "the allowed one passes"
    assert any(f"'{fee}' is 20%, outside the allowed 0% to 10%" in m for m in found[FEE]), found
    second = "connectAgain" if native else "connect-again"
    assert any(f"2 StripeConnectConfig resources ('connect', '{second}')" in m for m in found[ONE]), found
    assert any(f"'acme', 'acme-again' have the same '{org}'" in m for m in found[ONE]), found
    no_secret(result)


def test_a_live_stack_refuses_test_keys_http_and_unprotected_accounts(runs, request):
    result = runs["fail-prod-eu"]
    native = "native" in request.node.callspec.id
    assert result.returncode != 0
    found = violations(result.stdout)
    assert {LIVE_KEYS, URLS, PROTECT} <= set(found) and FEE not in found and ONE not in found, result.stdout
    assert any("must be a live key (pk_live_...) because stack 'prod-eu' is a live stack" in m for m in found[LIVE_KEYS])
    assert any(f"'{'refreshUrl' if native else 'refresh_url'}' must use https" in m for m in found[URLS]), found
    assert any("OrganizationConnectAccount 'acme': the 'protect' resource option must be set in live stack 'prod-eu'"
               in m for m in found[PROTECT]), found
    no_secret(result)


def test_a_raw_onboarding_link_in_a_live_stack_is_advisory_and_names_the_entry_url(native):
    for name in ("pass-production", "fail-prod-eu"):
        found = violations(native[name].stdout)
        assert level_of(native[name].stdout, LINKS) == "advisory"
        assert any("OnboardingLink 'acmeLink'" in m and "getOnboardingEntryUrl" in m
                   and "get_onboarding_entry_url" in m for m in found[LINKS]), found
    assert native["pass-production"].returncode == 0, "advisory only warns"
    assert LINKS not in violations(native["pass-dev"].stdout), "a test stack may hold a link"


# -- config ---------------------------------------------------------------------------------------------
def test_config_changes_the_outcome_and_an_advisory_level_only_warns(runs):
    advisory = runs["fee-advisory"]
    assert advisory.returncode == 0, advisory.stdout
    assert level_of(advisory.stdout, FEE) == "advisory"
    assert any("is 1.5%, outside the allowed 0% to 1%" in m for m in violations(advisory.stdout)[FEE])

    live = runs["dev-is-live"]
    assert live.returncode != 0
    found = violations(live.stdout)
    assert any("because stack 'dev' is a live stack (liveStacks: dev, prod-*)" in m for m in found[LIVE_KEYS]), found
    assert any(f"must be {BASE}/refresh, the onboarding endpoint's" in m for m in found[URLS]), found
    assert any(f"must be {BASE}/return" in m for m in found[URLS]), found


def test_a_malformed_pack_config_fails_naming_the_key(runs):
    pattern = runs["bad-pattern"]
    assert pattern.returncode != 0
    assert LIVE_KEYS in pattern.stdout and "liveStacks.1" in pattern.stdout, pattern.stdout

    keys = runs["bad-keys"]
    assert keys.returncode != 0
    text = keys.stdout
    assert f"{FEE}: 'minPercent' (5) is greater than 'maxPercent' (2)" in text, text
    assert f"{URLS}: unknown config key 'allowedHost'" in text, text
    assert "unknown policy 'spaceinvoices-aplication-fee'" in text, text


def test_the_pack_makes_no_api_call(runs):
    assert runs["calls"] == {}, "the pack and the previews must not call the API"


# -- unit: config validation and the rules' helpers ----------------------------------------------------
def test_config_errors_name_the_policy_and_the_key():
    assert rules.config_errors({}) == []
    assert rules.config_errors({"all": {}, FEE: {"minPercent": 1, "maxPercent": 1}}) == []
    assert rules.config_errors({FEE: {"minPercent": 3, "maxPercent": 1}}) == [
        f"{FEE}: 'minPercent' (3) is greater than 'maxPercent' (1)"]
    assert rules.config_errors({FEE: {"maxPercent": "5"}}) == [f"{FEE}: 'maxPercent' must be a number"]
    assert rules.config_errors({LIVE_KEYS: {"liveStacks": ["prod", 1]}}) == [
        f"{LIVE_KEYS}: 'liveStacks[1]' must be a string, not 1"]
    assert rules.config_errors({LIVE_KEYS: {"liveStacks": "prod"}}) == [f"{LIVE_KEYS}: 'liveStacks' must be a list of strings"]
    assert rules.config_errors({PROTECT: {"livestacks": []}}) == [
        f"{PROTECT}: unknown config key 'livestacks' (this policy takes: liveStacks)"]
    assert rules.config_errors({URLS: {"onboardingBaseUrl": "onboard.example.com"}})[0].startswith(
        f"{URLS}: 'onboardingBaseUrl' must be an http(s) URL")
    assert rules.config_errors({ONE: {"x": 1}}) == [f"{ONE}: unknown config key 'x' (this policy takes: )"]
    assert rules.config_errors({"nope": {}})[0].startswith("unknown policy 'nope'")


def test_every_rule_has_a_schema_default_for_every_key_and_the_example_config_is_valid():
    for rule in rules.RULES:
        for key, spec in rule.keys.items():
            assert "default" in spec.schema and "description" in spec.schema, (rule.name, key)
        rule.settings({})  # the defaults are themselves valid
    example = json.loads((Path(__file__).resolve().parents[1] / "examples" / "policy" / "policy-config.json").read_text())
    assert rules.config_errors({k: {p: v for p, v in c.items() if p != "enforcementLevel"}
                                for k, c in example.items()}) == []
    assert set(example) <= set(rules.RULES_BY_NAME) | {"all"}


def test_types_of_both_adapters_are_recognised():
    urn = "urn:pulumi:dev::p::pulumi-python:dynamic/spaceinvoices:OrganizationConnectAccount::acme"
    assert rules.kind_of("pulumi-python:dynamic/spaceinvoices:OrganizationConnectAccount", urn) == ("OrganizationConnectAccount", False)
    assert rules.kind_of("pulumi-python:dynamic:Resource", urn) == ("OrganizationConnectAccount", False)
    assert rules.kind_of("spaceinvoices:index:OnboardingLink", "urn:pulumi:dev::p::spaceinvoices:index:OnboardingLink::l") == (
        "OnboardingLink", True)
    assert rules.kind_of("aws:s3:Bucket", "urn:pulumi:dev::p::aws:s3:Bucket::b") is None
    assert rules.is_live("prod-eu", ["production", "prod-*"]) and not rules.is_live("dev", ["production", "prod-*"])


def test_the_pack_ships_its_folder_with_the_package_version():
    from pulumi_spaceinvoices._version import __version__

    out = subprocess.run([sys.executable, "-m", "pulumi_spaceinvoices.policy", "--path"], capture_output=True,
                         text=True, check=True).stdout.strip()
    assert Path(out) == PACK_DIR and (PACK_DIR / "PulumiPolicy.yaml").is_file()
    assert yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text())["version"] == __version__


def test_the_sdk_still_has_what_the_pack_subclasses():
    """The pack leans on pulumi-policy's private servicer (ARCHITECTURE, 2026-12-04): its class, its
    policy list and its runtime-settings hook. If one moves, this says so before the previews slow down."""
    from pulumi_policy import EnforcementLevel
    from pulumi_policy import policy as sdk

    original = sdk._PolicyAnalyzerServicer
    try:
        rules._install_servicer()
        servicer = sdk._PolicyAnalyzerServicer("spaceinvoices", "0.0.1", [rules.to_policy(r) for r in rules.RULES],
                                               EnforcementLevel.ADVISORY)
        assert hasattr(original, "_configure_runtime_settings")
        assert [p.name for p in servicer._view(rules.ACCOUNT)._PolicyAnalyzerServicer__policies] == [PROTECT, ONE]
        assert [p.name for p in servicer._view(rules.LINK)._PolicyAnalyzerServicer__policies] == [ONE, LINKS]
        assert len(servicer._view(rules.CONNECT)._PolicyAnalyzerServicer__policies) == 4
    finally:
        sdk._PolicyAnalyzerServicer = original
