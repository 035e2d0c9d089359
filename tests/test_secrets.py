"""Secrets (ARCHITECTURE.md, Targets: security): no secret in plain text anywhere.

One deployment's whole life with distinctive secret values (the access token, an `sk_` key and its
rotation, the Connect webhook secret, the webhook secret the API generates, onboarding URLs, a
payment intent's client secret), a few forced failures along the way, and then a scan of
everything one can observe: the harness's state file, every serialized `__provider`, the provider
process's debug log, the program's debug log, error messages, the sandbox's request log, stack
outputs in plain form, and what the test process printed.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest
import requests

from pulumi_spaceinvoices.sandbox import Account, Sandbox
from tests.harness import Engine, RunResult
from tests.support import engine

pytestmark = pytest.mark.stepwise

SECRET_KEY = "sk_test_LEAKCANARYkey0a1b2c3d4e5f"
ROTATED_KEY = "sk_test_LEAKCANARYrotated9z8y7x6w"
WEBHOOK = "whsec_LEAKCANARYhook5g6h7i8j9k"
PUBLIC_KEY = "pk_test_LEAKCANARYpublic1234"
DEBUG_ENV = {"SPACEINVOICES_LOG": "debug", "SPACEINVOICES_TIMEOUT": "2", "SPACEINVOICES_DEADLINE": "5"}


def lifecycle_program(org_id: str, settings: dict[str, Any]):
    def program() -> None:
        from pulumi_spaceinvoices import (
            OrganizationConnectAccount,
            StripeConnectConfig,
            get_onboarding_link_output,
            get_payment_intent_output,
        )

        connect = StripeConnectConfig(
            "connect", private_key=settings["private_key"], public_key=PUBLIC_KEY, application_fee=1.5,
            refresh_url="https://platform.example.com/refresh", return_url="https://platform.example.com/return",
            connect_webhook_secret=WEBHOOK,
        )
        acme = OrganizationConnectAccount("acme", organization_id=org_id,
                                          opts=pulumi.ResourceOptions(depends_on=[connect]))
        link = get_onboarding_link_output(acme.organization_id)  # the token comes from the stack config
        pulumi.export("onboarding_url", link.url)
        pulumi.export("onboarding_complete", link.onboarding_complete)
        pulumi.export("private_key", connect.private_key)
        pulumi.export("webhook_secret", connect.webhook_secret)
        pulumi.export("account_id", connect.account_id)
        pulumi.export("charges_enabled", acme.charges_enabled)
        if settings.get("shareable_id"):
            intent = get_payment_intent_output(settings["shareable_id"])
            pulumi.export("client_secret", intent.client_secret)
            pulumi.export("payment_intent_id", intent.payment_intent_id)

    return program


@pytest.fixture
def package_logger() -> Iterator[logging.Logger]:
    """The package's logger, put back as it was: debug logging switched on here must not outlive the test."""
    logger = logging.getLogger("pulumi_spaceinvoices")
    handlers, level = list(logger.handlers), logger.level
    yield logger
    logger.handlers[:] = handlers
    logger.setLevel(level)


def _run(eng: Engine, step: str, operation: str = "up", **expect: Any) -> RunResult:
    result = getattr(eng, operation)(raise_on_error=False)
    if expect.get("fails"):
        assert not result.ok, f"{step} was expected to fail"
    else:
        assert result.ok, f"{step} failed: {result.errors}"
    return result


def _complete_onboarding(url: str) -> None:
    assert requests.get(url, timeout=10).status_code == 200
    finished = requests.post(url, allow_redirects=False, timeout=10)
    assert finished.status_code == 303


def test_a_whole_lifecycle_with_failures_leaves_no_secret_in_plain_text_anywhere(
        sandbox: Sandbox, account: Account, org_id: str, caplog, capfd, package_logger):
    caplog.set_level(logging.DEBUG, logger="pulumi_spaceinvoices")
    settings: dict[str, Any] = {"private_key": SECRET_KEY}
    eng = engine(lifecycle_program(org_id, settings), sandbox, account.token, env=DEBUG_ENV, project="secrets")
    states: list[str] = []
    providers: set[str] = set()

    def snapshot() -> None:
        states.append(eng.state_json())
        providers.update(entry.provider_str for entry in eng.state.values() if entry.provider_str)

    # A bad key that contains a secret is refused without being echoed.
    settings["private_key"] = SECRET_KEY + "!"
    _run(eng, "preview with a bad key", "preview", fails=True)
    settings["private_key"] = SECRET_KEY

    # The first POST fails (500 is never repeated for a POST), then a lost answer is read back.
    sandbox.fail_next("enable_connect", status=500)
    _run(eng, "up with a failing enable", fails=True)
    snapshot()
    sandbox.lose_response_next("enable_connect")
    first = _run(eng, "up")
    snapshot()
    assert sandbox.store.count_org_accounts(org_id) == 1

    # The onboarding link call fails inside the program.
    sandbox.fail_next("create_link", status=500)
    _run(eng, "up with a failing onboarding link", fails=True)
    snapshot()

    # Rotate the key; then the organization's admin opens the newest link and finishes onboarding.
    settings["private_key"] = ROTATED_KEY
    rotated = _run(eng, "up rotating the key")
    snapshot()
    _complete_onboarding(rotated.outputs["onboarding_url"])
    sandbox.set_secrets_mode("masked")
    _run(eng, "refresh with masked secrets", "refresh")
    snapshot()
    sandbox.set_secrets_mode("full")

    # Pay-now data: the client secret becomes a stack output.
    settings["shareable_id"] = sandbox.create_invoice(org_id, amount=42.0).shareable_id
    paid = _run(eng, "up with a payment intent")
    snapshot()

    # Deactivating the account keeps failing (a PATCH is retried on 500), then destroy finishes.
    sandbox.fail_next("update_account", status=500, count=1000)
    _run(eng, "destroy with a failing deactivation", "destroy", fails=True)
    snapshot()
    sandbox.clear_faults()
    _run(eng, "destroy", "destroy")
    snapshot()

    # -- The secrets, as the server and the outputs know them ---------------------------------------
    onboarding_urls = [r.raw_outputs["onboarding_url"].value for r in (first, rotated)]
    client_secret = paid.raw_outputs["client_secret"].value
    secrets = {
        "access token": account.token,
        "sk_ key": SECRET_KEY,
        "rotated sk_ key": ROTATED_KEY,
        "connect webhook secret": WEBHOOK,
        "generated webhook secret": sandbox.store.connect_config(account.id)["webhook_secret"],
        "client secret": client_secret,
        "client secret's own part": client_secret.split("_secret_")[1],
    }
    for i, url in enumerate(onboarding_urls):
        secrets[f"onboarding URL {i}"] = url
        secrets[f"onboarding link token {i}"] = url.rsplit("/", 1)[1]
    assert all(len(value) >= 16 for value in secrets.values())

    # -- Secret outputs are marked secret -----------------------------------------------------------------
    for result in (first, rotated):
        assert {"onboarding_url", "private_key", "webhook_secret"} <= result.secret_outputs
    assert {"private_key", "webhook_secret", "client_secret"} <= paid.secret_outputs
    assert "account_id" not in paid.secret_outputs and "charges_enabled" not in paid.secret_outputs

    # -- Everything observable -------------------------------------------------------------------------------
    history = eng.history
    observed: dict[str, str] = {f"state file {i}": text for i, text in enumerate(states)}
    assert len(providers) == 2, "expected one __provider per resource type"
    for i, provider in enumerate(sorted(providers)):
        observed[f"__provider {i}"] = provider
        observed[f"__provider {i} unpickled bytes"] = base64.b64decode(provider).decode("latin-1")
    for i, result in enumerate(history):
        observed[f"run {i} ({result.kind}) provider debug log"] = result.provider_stderr
        observed[f"run {i} ({result.kind}) errors"] = "\n".join(result.errors)
        observed[f"run {i} ({result.kind}) check failures"] = "\n".join(f.reason for f in result.failures)
        observed[f"run {i} ({result.kind}) engine log"] = "\n".join(message for _, message in result.logs)
        plain = {key: value for key, value in result.raw_outputs.items() if key not in result.secret_outputs}
        observed[f"run {i} ({result.kind}) stack outputs in plain form"] = repr(plain)
        observed[f"run {i} ({result.kind}) repr"] = repr(result)
    observed["program debug log"] = caplog.text
    observed["sandbox request log"] = repr(sandbox.requests())
    observed["sandbox request log (admin API)"] = requests.get(f"{sandbox.url}/_sandbox/requests", timeout=10).text
    observed["harness state repr"] = repr(eng.state) + repr(eng.stack_outputs)
    printed = capfd.readouterr()
    observed["test output"] = printed.out + printed.err

    # The scan means something only if the debug logs and the failures really are there.
    assert "-> POST /v1/stripe-connect" in history[2].provider_stderr
    assert "-> POST /v1/organizations/" in caplog.text
    assert sum(1 for r in history if not r.ok) == 4

    leaks = [f"{name} in {where}" for where, text in observed.items() for name, value in secrets.items()
             if value in text]
    assert leaks == []
