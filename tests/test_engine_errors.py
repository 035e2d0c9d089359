"""Errors as users see them: what a real `pulumi up` prints for each kind of failure.

Each case runs the lifecycle program under the CLI and reads the "Diagnostics" block it prints:
one line naming the error class, the resource or function, the request and what to do; no Python
traceback, no secret. (The engine adds its own "update failed" lines to the stack's diagnostics.)
"""

from __future__ import annotations

import re
from http.server import BaseHTTPRequestHandler

import pytest

from tests.realengine import PROGRAMS
from tests.support import serve_http

pytestmark = pytest.mark.engine

SECRET_KEY = "sk_test_EngineErrorsCanary0000"


@pytest.fixture
def run_up(workspace, sandbox, account):
    """`pulumi up` (or preview) of the lifecycle program with `config` over working defaults; its output."""

    def run(command: str = "up", env: dict[str, str] | None = None, **config: object) -> str:
        settings = {"spaceinvoices:apiUrl": sandbox.url, "spaceinvoices:accessToken": account.token,
                    "stripeSecretKey": SECRET_KEY, **config}
        project = workspace.project(PROGRAMS / "lifecycle", config=settings,
                                    secrets={"spaceinvoices:accessToken", "stripeSecretKey"})
        result = (project.up if command == "up" else project.preview)(check=False, env=env)
        assert result.returncode != 0, result.stdout
        for secret in (SECRET_KEY, account.token, str(config.get("spaceinvoices:accessToken", account.token))):
            assert secret not in result.stdout
        return result.stdout

    return run


def diagnostics(output: str, resource: str) -> list[str]:
    """The lines the Diagnostics block prints under `resource` (e.g. "StripeConnectConfig (connect)")."""
    block = output.split("Diagnostics:", 1)[1].split("\nResources:", 1)[0]
    sections = re.split(r"\n  (?=\S)", block)
    lines = next(s for s in sections if s.strip().startswith(resource) or f":{resource}" in s.split("\n", 1)[0])
    return [line.strip() for line in lines.strip().splitlines()[1:] if line.strip()]


def assert_one_clear_line(lines: list[str], *expected: str) -> None:
    assert len(lines) == 1, "\n".join(lines)
    assert "Traceback" not in lines[0] and 'File "' not in lines[0]
    for text in expected:
        assert text in lines[0], lines[0]


def test_a_rejected_token_is_one_line_that_says_how_to_set_it(run_up):
    output = run_up(**{"spaceinvoices:accessToken": "rejected-token-0000"})
    assert_one_clear_line(diagnostics(output, "StripeConnectConfig (connect)"),
                          "error: AuthenticationError: reading StripeConnectConfig:", "GET /v1/stripe-connect",
                          "401", "pulumi config set --secret spaceinvoices:accessToken", "(request id ")


def test_an_organization_that_does_not_exist_is_one_line_naming_it(run_up, account):
    missing = "0123456789abcdef01234567"
    output = run_up(organizationId=missing)
    assert_one_clear_line(diagnostics(output, "OrganizationConnectAccount (acme)"),
                          "error: NotFoundError:", f"organization {missing}", "404", "(request id ")


def test_a_bad_input_fails_the_preview_naming_the_property_before_any_request(run_up, sandbox):
    sandbox.clear_requests()
    output = run_up("preview", organizationId="../../admin")
    assert_one_clear_line(diagnostics(output, "OrganizationConnectAccount (acme)"),
                          "resource 'acme': property organization_id",
                          "must be a Space Invoices id of 24 hexadecimal characters")
    assert sandbox.requests() == []


def test_a_refusal_from_a_function_is_one_line_naming_the_function(run_up, sandbox, org_id):
    invoice = sandbox.create_invoice(org_id, amount=10.0, currency="EUR")  # its organization never onboarded
    output = run_up(shareableId=invoice.shareable_id)
    ours, engine = diagnostics(output, "pulumi:pulumi:Stack")  # the engine adds that the program failed
    assert_one_clear_line([ours], "error: ValidationError: get_payment_intent for document", "422", "(request id ")
    assert engine == "error: an unhandled error occurred: program exited with non-zero exit code: 1"


def test_a_rate_limit_that_never_lifts_is_one_line_after_the_retries(run_up, sandbox):
    sandbox.fail_next("get_connect", status=429, count=1000, retry_after=0.1)
    output = run_up(env={"SPACEINVOICES_DEADLINE": "3"})
    assert_one_clear_line(diagnostics(output, "StripeConnectConfig (connect)"),
                          "error: RateLimitError: reading StripeConnectConfig:", "429", "retries were exhausted")


def test_an_api_that_cannot_be_reached_is_one_line_naming_the_request(run_up):
    output = run_up(env={"SPACEINVOICES_DEADLINE": "2"}, **{"spaceinvoices:apiUrl": "http://127.0.0.1:9"})
    assert_one_clear_line(diagnostics(output, "StripeConnectConfig (connect)"),
                          "error: APIConnectionError: reading StripeConnectConfig:", "GET /v1/stripe-connect",
                          "connection failed")


class CaptivePortal(BaseHTTPRequestHandler):
    """Answers every request with 200 and an HTML page, as a proxy or captive portal does."""

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        body = f"<html><body>Please log in. {SECRET_KEY}</body></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_PATCH = do_GET  # noqa: N815

    def log_message(self, *args: object) -> None:
        pass


def test_an_answer_the_client_cannot_use_is_one_line_without_its_content(run_up):
    with serve_http(CaptivePortal) as portal:
        output = run_up(**{"spaceinvoices:apiUrl": portal})
    assert_one_clear_line(diagnostics(output, "StripeConnectConfig (connect)"),
                          "error: UnexpectedResponseError: reading StripeConnectConfig:", "GET /v1/stripe-connect",
                          "200")
    assert "Please log in" not in output
