"""The native provider (`pulumi-resource-spaceinvoices`) under the real Pulumi CLI, against the
sandbox, with the API calls of every step counted from the sandbox's request log: the same lifecycle
and the same calls as the dynamic providers (tests/test_engine_lifecycle.py), run by one program in
each language (tests/programs/native-lifecycle/: Pulumi YAML, and Python, TypeScript and Go on the
SDKs generated into sdk/), plus what only a plugin can do: `pulumi import`, `get` by id, a real invoke.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pulumi_spaceinvoices.onboarding import OnboardingEndpoint, Settings, Visit
from pulumi_spaceinvoices.onboarding_entry import entry_url
from tests.lifecycle import Step, assert_destroyed, cli_summary, drift_at_stripe, run_steps
from tests.native_sdks import ENTRY_URL_CONFIG, ENTRY_URL_SECRETS, LANGUAGES, LIFECYCLE
from tests.realengine import PROGRAMS, require_cli
from tests.support import api_calls

pytestmark = pytest.mark.native

SECRET_KEY = "sk_test_NativeLifecycle0000"
CONNECT = "spaceinvoices:index:StripeConnectConfig"
ACCOUNT = "spaceinvoices:index:OrganizationConnectAccount"
LINK = "spaceinvoices:index:OnboardingLink"
ENTRY = "spaceinvoices:index:getOnboardingEntryUrl"


def entry_page_status(url: str, signing_key: str) -> int:
    """What the onboarding endpoint, holding `signing_key`, answers for the entry URL `url` (no API call)."""
    base, _, rest = url.partition("/o/")
    path, _, query = rest.partition("?")
    endpoint = OnboardingEndpoint(Settings(base_url=base, signing_key=signing_key))
    params = dict(part.split("=", 1) for part in query.split("&"))
    return endpoint.handle(Visit("GET", f"/o/{path}", params)).status


def plugin_version_warnings_only(output: str) -> list[str]:
    """Warnings other than the CLI's note that it found the plugin on PATH (expected: that is how it is installed)."""
    return [line for line in output.splitlines() if "warning:" in line and "from $PATH at" not in line]


@pytest.fixture
def native(workspace, sandbox, account, toolchains):
    """The native lifecycle program (in `language`, default YAML) as a new stack, pointed at the
    sandbox with `account`'s token."""

    def make(language="yaml", **config):
        project = workspace.project(
            LIFECYCLE / language,
            config={"apiUrl": sandbox.url, "accessToken": account.token, "stripeSecretKey": SECRET_KEY,
                    **ENTRY_URL_CONFIG, **config},
            secrets={"accessToken", "stripeSecretKey", *ENTRY_URL_SECRETS},
        )
        toolchains.prepare(language, project)
        return project

    return make


@pytest.mark.parametrize("language", LANGUAGES)
def test_preview_up_noop_update_refresh_drift_replace_and_destroy(native, sandbox, account, org_id, language):
    project = native(language, organizationId=org_id)
    store = sandbox.store
    base, key = ENTRY_URL_CONFIG["onboardingUrl"], ENTRY_URL_CONFIG["onboardingSigningKey"]
    rotated = "rotated-signing-key-0123456789abcdefghijkl"
    other_org = sandbox.create_organization(account.id, name="Other d.o.o.")
    first: dict[str, Any] = {}

    def created(up):
        outputs = first["outputs"] = project.outputs()
        assert outputs["onboardingUrl"].startswith(sandbox.url) and outputs["onboardingComplete"] is False
        assert outputs["chargesEnabled"] is False
        assert outputs["entryUrl"] == entry_url(base, org_id, key), "the invoke signs; it calls nothing"
        assert store.org_account(org_id)["active"] is True
        assert plugin_version_warnings_only(up.stdout) == []

    def new_link(again):
        assert "OnboardingLink acmeLink updated" in again.stdout
        assert project.outputs()["onboardingUrl"] != first["outputs"]["onboardingUrl"]

    def updated(_):
        assert store.org_account(org_id)["active"] is False
        assert store.connect_config(account.id)["application_fee"] == 2.5

    def quiet(refresh):
        assert "StripeConnectConfig connect updated" not in refresh.stdout
        assert "OrganizationConnectAccount acme updated" not in refresh.stdout

    def drift_read(refresh):
        assert re.search(r"StripeConnectConfig connect updated .*\[diff: ~active\]", refresh.stdout), refresh.stdout
        state = {r["type"]: r["outputs"] for r in project.resources()}
        assert state[ACCOUNT]["chargesEnabled"] is True and state[CONNECT]["active"] is False
        assert state[LINK]["onboardingComplete"] is True

    def healed(_):
        assert store.connect_config(account.id)["active"] is True
        assert project.outputs()["onboardingComplete"] is True

    def same_entry(_):
        assert project.outputs()["entryUrl"] == first["outputs"]["entryUrl"], "the same entry URL on every up"
        project.preview("--expect-no-changes")

    def new_entry(_):
        entry = project.outputs()["entryUrl"]
        assert entry == entry_url(base, org_id, rotated) != first["outputs"]["entryUrl"]
        assert entry_page_status(entry, rotated) == 200 and entry_page_status(first["outputs"]["entryUrl"], rotated) == 403

    def paid(_):
        outputs = project.stack.outputs()
        assert outputs["paymentIntentId"].value.startswith("pi_")
        assert outputs["clientSecret"].secret, "the generated SDK keeps the invoke's secret field secret"

    def replaced(_):
        calls = api_calls(sandbox)
        assert calls["create_account"] == 1 and calls["create_link"] == 1
        assert store.org_account(other_org)["active"] is True
        assert store.org_account(org_id)["active"] is False, "the replaced account is deactivated"

    # (the YAML program can't branch: tests/programs/native-read runs its invoke)
    payment = [] if language == "yaml" else [
        Step("an invoice paid: the invoke", project.up, config=lambda: {"shareableId": sandbox.create_invoice(
            org_id, amount=125.0, currency="EUR").shareable_id}, changes={}, calls={"get_payment_intent": 1},
             why="the invoke, once; the resources call nothing", then=paid)]
    # The create step's calls are the dynamic providers' exactly (tests/test_engine_lifecycle.py): each
    # resource reads then creates; the link reads the account and makes a link.
    run_steps(sandbox, project, [
        # the provider, two resources, the link, the stack
        Step("preview", project.preview, changes={"create": 5}, calls={},
             why="preview calls nothing: Create in preview returns unknowns, no link is made"),
        Step("up", project.up, changes={"created": 5}, calls={"get_connect": 1, "enable_connect": 1,
             "get_account": 2, "create_account": 1, "create_link": 1}, then=created),
        Step("up again: only the link changes, a fresh one on every up", project.up, changes={"updated": 1},
             calls={"get_account": 1, "create_link": 1}, why="the resources call nothing", then=new_link),
        Step("preview with a stale link", project.preview, changes={"update": 1}, calls={},
             why="a preview with a stale link shows it changing and makes none"),
        Step("update", project.up, config={"accountActive": False, "applicationFee": 2.5}, changes={"updated": 3},
             calls={"update_connect": 1, "get_connect": 1, "update_account": 1, "get_account": 2, "create_link": 1},
             then=updated),
        Step("refresh, nothing drifted", project.refresh, calls={"get_connect": 1, "get_account": 2},
             why="refresh reads each resource once, makes no link", then=quiet),
        Step("refresh after drift", project.refresh, before=lambda: drift_at_stripe(store, account.id, org_id),
             calls={"get_connect": 1, "get_account": 2},
             then=drift_read),
        # the declared `active: true` of both is applied again; onboarding is complete
        Step("heal", project.up, config={"accountActive": True}, changes={"updated": 2},
             calls={"update_connect": 1, "get_connect": 1, "update_account": 1, "get_account": 1}, then=healed),
        Step("no-op up, onboarded", project.up, changes={}, calls={},
             why="onboarded: an up with nothing changed calls nothing at all", then=same_entry),
        Step("signing key rotated", project.up, config={"onboardingSigningKey": rotated},
             secrets={"onboardingSigningKey"}, changes={"updated": 1}, calls={}, then=new_entry),  # the provider
        *payment,
        Step("another organization", project.up,
             config={**({} if language == "yaml" else {"shareableId": None}), "organizationId": other_org},
             changes={"replaced": 1, "updated": 1}, then=replaced),  # the account; the link follows it
        Step("destroy", project.destroy, changes={"deleted": 5}, calls={"update_connect": 1, "update_account": 1},
             why="delete deactivates; a link needs nothing",
             then=lambda _: assert_destroyed(store, account.id, org_id, other_org)),
    ])


def test_secrets_are_encrypted_in_the_state_as_the_schema_marks_them(native, sandbox, account, org_id):
    project = native(organizationId=org_id)
    project.up()
    link, entry = project.outputs()["onboardingUrl"], project.outputs()["entryUrl"]
    secrets = {"access token": account.token, "Stripe secret key": SECRET_KEY, "onboarding URL": link,
               "entry URL": entry, "entry URL's signature": entry.split("sig=")[1],
               "signing key": ENTRY_URL_CONFIG["onboardingSigningKey"],
               "webhook secret": sandbox.store.connect_config(account.id)["webhook_secret"]}
    everything = project.pulumi("stack", "export").stdout + project.state_text()
    assert [name for name, value in secrets.items() if value in everything] == []
    state = {r["type"]: r for r in project.resources()}
    marker = "4dabf18193072939515e22adb298388d"
    for key in ("privateKey", "webhookSecret"):
        assert marker in state[CONNECT]["outputs"][key], key
    assert marker in state[LINK]["outputs"]["url"]
    assert marker in state["pulumi:providers:spaceinvoices"]["inputs"]["accessToken"]
    assert marker in state["pulumi:providers:spaceinvoices"]["inputs"]["onboardingSigningKey"]


def test_an_error_is_one_line_with_the_request_id_and_no_secret(native, sandbox):
    project = native(organizationId="0123456789abcdef01234567", accessToken="rejected-token-0000")
    failed = project.up(check=False)
    assert failed.returncode != 0
    block = failed.stdout.split("Diagnostics:", 1)[1].split("\nResources:", 1)[0]
    section = block.split("spaceinvoices:index:StripeConnectConfig (connect):", 1)[1].strip().split("\n\n", 1)[0]
    lines = [line.strip() for line in section.splitlines() if line.strip()]
    assert len(lines) == 1, section
    assert lines[0].startswith("error: AuthenticationError: reading StripeConnectConfig: "), lines[0]
    for text in ("GET /v1/stripe-connect", "401", "(request id ", "pulumi config set --secret"):
        assert text in lines[0], lines[0]
    assert "Traceback" not in failed.stdout and 'File "' not in failed.stdout
    assert "rejected-token-0000" not in failed.stdout and SECRET_KEY not in failed.stdout


def test_an_up_that_fails_on_a_bad_token_converges_once_the_token_is_fixed(native, sandbox, account, org_id):
    project = native(organizationId=org_id, accessToken="rejected-token-0000")
    assert project.up(check=False).returncode != 0
    assert sandbox.store.connect_config(account.id) is None and sandbox.store.count_org_accounts(org_id) == 0

    project.set_config({"accessToken": account.token}, secrets={"accessToken"})
    sandbox.clear_requests()
    fixed = project.up()
    assert cli_summary(fixed.stdout) == {"created": 3, "updated": 1}  # the provider's new token: an update, no replace
    assert api_calls(sandbox) == {"get_connect": 1, "enable_connect": 1, "get_account": 2, "create_account": 1,
                              "create_link": 1}
    assert sandbox.store.connect_config(account.id)["active"] is True and sandbox.store.count_org_accounts(org_id) == 1
    sandbox.clear_requests()
    assert cli_summary(project.preview().stdout) == {"update": 1}, "only the link, as in every up before onboarding"
    assert api_calls(sandbox) == {}


def test_a_bad_input_fails_the_preview_naming_the_schema_property_before_any_request(native, sandbox):
    project = native(organizationId="../../admin")
    sandbox.clear_requests()
    failed = project.preview(check=False)
    assert failed.returncode != 0
    assert "property organizationId" in failed.stdout, failed.stdout
    assert "must be a Space Invoices id of 24 hexadecimal characters" in failed.stdout
    assert sandbox.requests() == []


# -- What the dynamic providers cannot do ---------------------------------------------------------

@pytest.fixture
def empty_program(workspace, sandbox, account, toolchains):
    """The empty native program in `language` as a new stack on the default provider (stack config)."""

    def make(language):
        project = workspace.project(
            PROGRAMS / "native-import" / language,
            config={"spaceinvoices:apiUrl": sandbox.url, "spaceinvoices:accessToken": account.token},
            secrets={"spaceinvoices:accessToken"},
        )
        toolchains.prepare_source(language, project)
        return project

    return make


@pytest.fixture
def importer(empty_program):
    return empty_program("yaml")


def imported_code(output: str) -> str:
    """The YAML `pulumi import` prints after "Please copy the following code into your Pulumi application"."""
    code = output.split("Please copy the following code into your Pulumi application", 1)[1]
    return code[code.index("\nresources:") + 1:].strip("\n") + "\n"


def test_pulumi_import_of_an_organization_account_writes_the_code_the_program_declares(
        importer, sandbox, api, org_id, connect_enabled):
    assert api.post(f"/v1/organizations/{org_id}/stripe-connect/account", json={}).status_code == 200
    sandbox.clear_requests()
    result = importer.pulumi("import", "--yes", "--skip-preview", ACCOUNT, "acme", org_id)
    assert api_calls(sandbox) == {"get_account": 1}, "import reads the account once and changes nothing"
    code = imported_code(result.stdout)
    import yaml

    declared = yaml.safe_load(code)["resources"]["acme"]
    # YAML's short form of the token (the `index` module left out), and what
    # tests/programs/native-lifecycle/yaml declares for the same account, nothing else.
    assert declared["type"] == "spaceinvoices:OrganizationConnectAccount"
    assert declared["properties"] == {"organizationId": org_id, "active": True}
    assert declared["options"] == {"protect": True}
    (state,) = importer.resources(ACCOUNT)
    assert state["id"] == org_id and state["outputs"]["connectAccountId"]

    program = importer.folder / "Pulumi.yaml"
    program.write_text(program.read_text().replace("resources: {}\n", code))
    sandbox.clear_requests()
    importer.preview("--expect-no-changes")
    assert api_calls(sandbox) == {}


MAIN_FILE = {"python": "__main__.py", "typescript": "index.ts", "go": "main.go"}


@pytest.mark.parametrize("language", ["python", "typescript", "go"])
def test_pulumi_import_writes_a_program_in_each_sdk_language_that_declares_what_was_imported(
        empty_program, sandbox, api, org_id, connect_enabled, language):
    assert api.post(f"/v1/organizations/{org_id}/stripe-connect/account", json={}).status_code == 200
    project = empty_program(language)
    sandbox.clear_requests()
    result = project.pulumi("import", "--yes", "--skip-preview", ACCOUNT, "acme", org_id)
    assert api_calls(sandbox) == {"get_account": 1}
    code = result.stdout.split("the destroy will take effect.", 1)[1].strip() + "\n"
    # The program in the project's language, on its SDK, with what was imported and nothing else.
    expected = {
        "python": ("import pulumi_spaceinvoices_native as spaceinvoices", "spaceinvoices.OrganizationConnectAccount(",
                   f'organization_id="{org_id}"', "active=True", "protect=True"),
        "typescript": ('import * as spaceinvoices from "@spaceinvoices/pulumi";',
                       "new spaceinvoices.OrganizationConnectAccount(", f'organizationId: "{org_id}"', "active: true",
                       "protect: true"),
        "go": ('"github.com/spaceinvoices/pulumi-spaceinvoices/sdk/go/spaceinvoices"',
               "spaceinvoices.NewOrganizationConnectAccount(", f'pulumi.String("{org_id}")', "pulumi.Bool(true)",
               "pulumi.Protect(true)"),
    }[language]
    assert [text for text in expected if text not in code] == [], code

    (project.folder / MAIN_FILE[language]).write_text(code)
    sandbox.clear_requests()
    project.preview("--expect-no-changes")  # the pasted program runs, and declares what the state holds
    assert api_calls(sandbox) == {}


def test_pulumi_import_of_the_connect_config_takes_any_id_and_prints_no_secret(
        importer, sandbox, account, connect_enabled, connect_body):
    sandbox.clear_requests()
    result = importer.pulumi("import", "--yes", "--skip-preview", CONNECT, "connect", "any-id")
    assert api_calls(sandbox) == {"get_connect": 1}
    # The engine prints imported inputs as code in plain text: the plugin leaves the secret ones out
    # (the engine then warns that the empty privateKey it writes is required, which is the point).
    for secret in (connect_body["privateKey"], connect_body["connectWebhookSecret"]):
        assert secret not in result.stdout and secret not in importer.state_text()
    code = imported_code(result.stdout)
    import yaml

    imported = yaml.safe_load(code)["resources"]["connect"]
    assert imported["type"] == "spaceinvoices:StripeConnectConfig"
    assert imported["properties"] == {
        "active": True, "applicationFee": connect_body["applicationFee"], "privateKey": "",
        "publicKey": connect_body["publicKey"], "refreshUrl": connect_body["refreshUrl"],
        "returnUrl": connect_body["returnUrl"],
    }
    (state,) = importer.resources(CONNECT)
    assert state["id"] == connect_enabled["id"], "the singleton is found whatever id is given"
    assert "4dabf18193072939515e22adb298388d" in state["outputs"]["privateKey"], "kept, encrypted"

    # The code as printed, with the secret key taken from secret config: nothing to change.
    importer.set_config({"stripeSecretKey": connect_body["privateKey"]}, secrets={"stripeSecretKey"})
    declared = code.replace('privateKey: ""', "privateKey: ${stripeSecretKey}")
    program = importer.folder / "Pulumi.yaml"
    program.write_text(program.read_text().replace(
        "resources: {}\n", "config:\n  stripeSecretKey:\n    type: string\n    secret: true\n" + declared))
    sandbox.clear_requests()
    importer.preview("--expect-no-changes")
    assert api_calls(sandbox) == {}


def test_get_by_id_and_the_payment_intent_invoke(workspace, sandbox, account, api, org_id, connect_enabled):
    assert api.post(f"/v1/organizations/{org_id}/stripe-connect/account", json={}).status_code == 200
    sandbox.store.set_charges_enabled(org_id, True)
    invoice = sandbox.create_invoice(org_id, amount=125.0, currency="EUR")
    project = workspace.project(
        PROGRAMS / "native-read",
        config={"spaceinvoices:apiUrl": sandbox.url, "spaceinvoices:accessToken": account.token,
                "organizationId": org_id, "shareableId": invoice.shareable_id},
        secrets={"spaceinvoices:accessToken"},
    )
    sandbox.clear_requests()
    project.up()
    assert api_calls(sandbox) == {"get_account": 1, "get_payment_intent": 1}
    outputs = project.stack.outputs()
    assert outputs["chargesEnabled"].value is True and outputs["stripeAccountId"].value.startswith("acct_")
    assert outputs["paymentIntentId"].value.startswith("pi_")
    assert outputs["clientSecret"].secret, "the schema marks clientSecret secret"
    # (Pulumi YAML keeps an invoke's result as one value: with one secret field, every field is secret.)
    (existing,) = project.resources(ACCOUNT)
    assert existing["id"] == org_id and existing.get("external") is True, "read, not managed: destroy leaves it"

    sandbox.clear_requests()
    project.destroy()
    assert api_calls(sandbox)["update_account"] == 0 and sandbox.store.org_account(org_id)["active"] is True


# -- The plugin itself ------------------------------------------------------------------------------

def test_pulumi_package_get_schema_prints_a_schema_with_every_description_and_secret(workspace, tmp_path):
    plugin = shutil.which("pulumi-resource-spaceinvoices", path=workspace.env["PATH"])
    assert plugin, "pip install -e . puts the plugin on PATH"
    result = subprocess.run([require_cli(), "package", "get-schema", plugin], env=workspace.env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=120, check=True)
    schema = json.loads(result.stdout)
    assert schema["name"] == "spaceinvoices"
    from pulumi_spaceinvoices._version import __version__

    assert schema["version"] == __version__, "the schema and GetPluginInfo report the package's version"
    assert set(schema["resources"]) == {CONNECT, ACCOUNT, LINK}
    assert set(schema["functions"]) == {"spaceinvoices:index:getPaymentIntent", ENTRY}

    undocumented = []
    for token, spec in {**schema["resources"], **schema["functions"]}.items():
        if not spec.get("description"):
            undocumented.append(token)
        groups = [spec.get("inputProperties", {}), spec.get("properties", {}),
                  spec.get("inputs", {}).get("properties", {}), spec.get("outputs", {}).get("properties", {})]
        undocumented += [f"{token}.{name}" for group in groups for name, prop in group.items()
                         if not prop.get("description")]
    undocumented += [f"config.{name}" for name, prop in schema["config"]["variables"].items()
                     if not prop.get("description")]
    assert undocumented == []

    def secrets(group):
        return {name for name, prop in group.items() if prop.get("secret")}

    assert secrets(schema["resources"][CONNECT]["properties"]) == {"privateKey", "connectWebhookSecret",
                                                                   "webhookSecret"}
    assert secrets(schema["resources"][CONNECT]["inputProperties"]) == {"privateKey", "connectWebhookSecret"}
    assert secrets(schema["resources"][ACCOUNT]["properties"]) == set()
    assert secrets(schema["resources"][LINK]["properties"]) == {"url"}
    assert secrets(schema["functions"]["spaceinvoices:index:getPaymentIntent"]["outputs"]["properties"]) == {
        "clientSecret"}
    assert secrets(schema["functions"][ENTRY]["inputs"]["properties"]) == {"signingKey"}
    assert secrets(schema["functions"][ENTRY]["outputs"]["properties"]) == {"url"}
    assert secrets(schema["config"]["variables"]) == {"accessToken", "onboardingSigningKey"}
    assert set(schema["provider"]["inputProperties"]) == {"accessToken", "apiUrl", "onboardingUrl",
                                                          "onboardingSigningKey"}
    assert "organizationId" in schema["resources"][ACCOUNT]["requiredInputs"]


def test_the_schema_derives_every_property_from_the_core():
    """Names and descriptions come from the core modules: one place for each."""
    from pulumi_spaceinvoices import organization_connect_account, stripe_connect_config
    from pulumi_spaceinvoices.plugin import schema
    from pulumi_spaceinvoices.plugin._names import camel

    spec = schema.schema()["resources"]
    for token, core in ((CONNECT, stripe_connect_config), (ACCOUNT, organization_connect_account)):
        assert list(spec[token]["inputProperties"]) == [camel(key) for key in core.INPUT_KEYS]
        assert list(spec[token]["properties"]) == [camel(key) for key in core.INPUT_KEYS + core.OUTPUT_ONLY_KEYS]
    assert spec[CONNECT]["properties"]["publicKey"]["description"].endswith("same mode as `privateKey`.")
    plugin_source = "".join(path.read_text() for path in Path(schema.__file__).parent.glob("*.py"))
    spelled = [name for name in ("privateKey", "private_key", "applicationFee", "application_fee", "chargesEnabled",
                                 "connectAccountId", "connect_account_id") if name in plugin_source]
    assert spelled == [], "the plugin spells no property of the two resources: the core does"


def test_a_refusal_from_the_invoke_is_one_line_naming_the_function(workspace, sandbox, account, api, org_id,
                                                                     connect_enabled):
    assert api.post(f"/v1/organizations/{org_id}/stripe-connect/account", json={}).status_code == 200
    invoice = sandbox.create_invoice(org_id, amount=10.0, currency="EUR")  # its organization never onboarded
    project = workspace.project(
        PROGRAMS / "native-read",
        config={"spaceinvoices:apiUrl": sandbox.url, "spaceinvoices:accessToken": account.token,
                "organizationId": org_id, "shareableId": invoice.shareable_id},
        secrets={"spaceinvoices:accessToken"},
    )
    failed = project.up(check=False)
    assert failed.returncode != 0
    diagnostics = failed.stdout.split("Diagnostics:", 1)[1]
    (line,) = [line.strip() for line in diagnostics.splitlines() if "getPaymentIntent returned an error" in line]
    # The engine's prefix, then ours: the class, the function and document, the API's answer, the request id.
    assert "returned an error: ValidationError: get_payment_intent for document " in line, line
    assert "422 STRIPE_CONNECT_NOT_ONBOARDED" in line and "(request id " in line
    assert "Traceback" not in failed.stdout and 'File "' not in failed.stdout
    assert account.token not in failed.stdout


def test_the_plugin_on_path_reports_the_version_a_program_asks_for(workspace, sandbox, account, org_id, tmp_path):
    """PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true (the workspace sets it): the engine takes the
    plugin from PATH and checks the version it reports (GetPluginInfo) against the program's."""
    from pulumi_spaceinvoices._version import __version__

    def preview_asking_for(version: str) -> str:
        program = tmp_path / f"asks-{version}"
        shutil.copytree(LIFECYCLE / "yaml", program)
        text = (program / "Pulumi.yaml").read_text()
        text = text.replace("    type: pulumi:providers:spaceinvoices\n",
                            f"    type: pulumi:providers:spaceinvoices\n    options:\n      version: {version}\n")
        (program / "Pulumi.yaml").write_text(text)
        project = workspace.project(program, stack=f"v{version.replace('.', '')}", config={
            "apiUrl": sandbox.url, "accessToken": account.token, "stripeSecretKey": SECRET_KEY,
            "organizationId": org_id, **ENTRY_URL_CONFIG}, secrets={"accessToken", "stripeSecretKey", *ENTRY_URL_SECRETS})
        return project.preview().stdout

    assert "is expected to have version" not in preview_asking_for(__version__)
    newer = preview_asking_for("99.0.0")
    assert f"resource plugin spaceinvoices is expected to have version >=99.0.0, but has {__version__}" in newer
