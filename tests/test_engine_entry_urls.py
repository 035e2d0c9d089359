"""Signed onboarding entry URLs as stack outputs of a Python program on the dynamic providers, under
the real Pulumi CLI: made with no API call, the same on every `up` (a no-op `up` calls nothing and
changes no output), encrypted in the state, changed by a key rotation, after which the onboarding
endpoint (a real `spaceinvoices-onboarding serve`) refuses the old URL and serves the new one.
The native provider's invoke is walked in tests/test_native_lifecycle.py, in four languages.
"""

from __future__ import annotations

import pytest
import requests

from pulumi_spaceinvoices.onboarding_entry import entry_url
from tests.realengine import PROGRAMS
from tests.support import SIGNING_KEY, OnboardingProcess, api_calls

pytestmark = pytest.mark.engine

STRIPE_SECRET_KEY = "sk_test_EntryUrls000000000000"
ROTATED_KEY = "entry-urls-rotated-signing-key-0123456789abcd"



def test_entry_urls_are_stable_outputs_and_a_key_rotation_revokes_them(workspace, sandbox, account, org_id):
    endpoint = OnboardingProcess(sandbox, account.token, signing_key=ROTATED_KEY)
    project = workspace.project(PROGRAMS / "lifecycle", config={
        "spaceinvoices:apiUrl": sandbox.url, "spaceinvoices:accessToken": account.token,
        "spaceinvoices:onboardingUrl": endpoint.url, "spaceinvoices:onboardingSigningKey": SIGNING_KEY,
        "stripeSecretKey": STRIPE_SECRET_KEY, "organizationId": org_id, "entryUrl": True,
    }, secrets={"spaceinvoices:accessToken", "spaceinvoices:onboardingSigningKey", "stripeSecretKey"})

    sandbox.clear_requests()
    project.up()
    assert api_calls(sandbox) == {"get_connect": 1, "enable_connect": 1, "get_account": 1, "create_account": 1}
    first = project.outputs()["entry_url"]
    assert first == entry_url(endpoint.url, org_id, SIGNING_KEY)
    assert project.stack.outputs()["entry_url"].secret
    state = project.pulumi("stack", "export").stdout + project.state_text()
    assert first not in state and first.split("sig=")[1] not in state and SIGNING_KEY not in state

    sandbox.clear_requests()
    project.up()
    assert api_calls(sandbox) == {}
    assert project.outputs()["entry_url"] == first
    project.preview("--expect-no-changes")
    assert api_calls(sandbox) == {}

    project.set_config({"spaceinvoices:onboardingSigningKey": ROTATED_KEY},
                       secrets={"spaceinvoices:onboardingSigningKey"})
    sandbox.clear_requests()
    project.up()
    assert api_calls(sandbox) == {}, "a rotation changes outputs, not resources"
    second = project.outputs()["entry_url"]
    assert second == entry_url(endpoint.url, org_id, ROTATED_KEY) != first

    with endpoint:  # the endpoint now holds the rotated key (and no previous one)
        sandbox.clear_requests()
        assert requests.get(first, timeout=10).status_code == 403
        assert requests.get(second, timeout=10).status_code == 200
        assert api_calls(sandbox) == {}
