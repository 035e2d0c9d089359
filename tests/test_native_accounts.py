"""Two Space Invoices accounts in one stack through explicit instances of the native provider: the
example program examples/native-yaml (a `test` and a `live` provider) under the real CLI, against
two sandbox accounts, every request counted per account. Each account's organization gets its
entry URL, signed with that account's key, with no API call.
"""

from __future__ import annotations

from collections import Counter

import pytest

from pulumi_spaceinvoices.onboarding_entry import entry_url
from tests.realengine import ROOT
from tests.support import api_calls_by_account

pytestmark = pytest.mark.native

CREATE_CALLS = {"get_connect": 1, "enable_connect": 1, "get_account": 1, "create_account": 1}
# Each account's onboarding endpoint (nothing serves them here: the URLs are only made and checked).
TEST_ENDPOINT, LIVE_ENDPOINT = "https://onboard-test.platform.example.com", "https://onboard.platform.example.com"
TEST_KEY, LIVE_KEY = "native-accounts-test-signing-key-0123456789", "native-accounts-live-signing-key-0123456789"


def test_two_explicit_providers_manage_two_accounts_side_by_side(workspace, sandbox):
    test = sandbox.create_account(email="test@example.com")
    live = sandbox.create_account(email="live@example.com")
    test_org = sandbox.create_organization(test.id, name="Shop (test)")
    live_org = sandbox.create_organization(live.id, name="Shop (live)")
    project = workspace.project(
        ROOT / "examples" / "native-yaml",
        config={"apiUrl": sandbox.url, "testAccessToken": test.token, "liveAccessToken": live.token,
                "testStripeSecretKey": "sk_test_NativeAccounts0000", "liveStripeSecretKey": "sk_" "live_NativeAccounts0000",
                "testStripePublishableKey": "pk_test_NativeAccounts0000",
                "liveStripePublishableKey": "pk_live_NativeAccounts0000",
                "testOrganizationId": test_org, "liveOrganizationId": live_org,
                "testOnboardingUrl": TEST_ENDPOINT, "liveOnboardingUrl": LIVE_ENDPOINT,
                "testOnboardingSigningKey": TEST_KEY, "liveOnboardingSigningKey": LIVE_KEY},
        secrets={"testAccessToken", "liveAccessToken", "testStripeSecretKey", "liveStripeSecretKey",
                 "testOnboardingSigningKey", "liveOnboardingSigningKey"},
    )

    sandbox.clear_requests()
    project.preview()
    assert api_calls_by_account(sandbox) == {}

    project.up()
    # Each account sees exactly the calls one account's program makes, with its own token only.
    assert api_calls_by_account(sandbox) == {test.id: Counter(CREATE_CALLS), live.id: Counter(CREATE_CALLS)}
    assert sandbox.store.connect_config(test.id)["public_key"] == "pk_test_NativeAccounts0000"
    assert sandbox.store.connect_config(live.id)["public_key"] == "pk_live_NativeAccounts0000"
    assert sandbox.store.org_account(test_org)["active"] is True and sandbox.store.org_account(live_org)["active"]
    assert sandbox.store.connect_config(test.id)["refresh_url"] == f"{TEST_ENDPOINT}/refresh"
    assert sandbox.store.connect_config(live.id)["return_url"] == f"{LIVE_ENDPOINT}/return"
    outputs = project.outputs()
    expected = {"testEntryUrl": entry_url(TEST_ENDPOINT, test_org, TEST_KEY),
                "liveEntryUrl": entry_url(LIVE_ENDPOINT, live_org, LIVE_KEY)}
    if {name: outputs[name] for name in expected} != expected:  # not an assert: pytest would print the URLs
        pytest.fail("the entry URLs are not each account's, signed with its own key", pytrace=False)

    # Rotating one account's token (the old one revoked) touches nothing of either account's
    # resources: only the `live` provider is updated, and the next calls carry the new token.
    project.set_config({"liveAccessToken": sandbox.create_token(live.id)}, secrets={"liveAccessToken"})
    sandbox.store.revoke_token(live.token)
    sandbox.clear_requests()
    rotated = project.up()  # nothing to read or make: the entry URLs need no call
    assert "pulumi:providers:spaceinvoices live updated" in rotated.stdout and " test updated" not in rotated.stdout
    assert api_calls_by_account(sandbox) == {}
    after = project.outputs()
    if {name: after[name] for name in expected} != expected:
        pytest.fail("the entry URLs changed with the token", pytrace=False)
    sandbox.clear_requests()
    project.preview("--expect-no-changes")
    assert api_calls_by_account(sandbox) == {}

    sandbox.clear_requests()
    project.destroy()
    deactivate = Counter({"update_connect": 1, "update_account": 1})
    assert api_calls_by_account(sandbox) == {test.id: deactivate, live.id: deactivate}
    assert sandbox.store.connect_config(test.id)["active"] is False
    assert sandbox.store.connect_config(live.id)["active"] is False
