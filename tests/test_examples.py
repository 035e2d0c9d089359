"""The examples as shipped, under the real Pulumi CLI, against the sandbox.

- quickstart: `bash examples/quickstart/run.sh` for real, from a fresh state folder, then every next
  step it prints, in order: the entry URL's page, its "Continue to Stripe" form, the sandbox's
  onboarding form and the endpoint's return page, over HTTP with one cookie jar as a browser keeps it
  (tests/test_browser.py clicks them in a browser), `pulumi refresh`, `pulumi up`, the pay page,
  `pulumi destroy`, `run.sh stop`.
- multi-org: examples/multi-org/README.md's local steps as written (its code blocks, run by bash),
  on a copy of the folder, against the sandbox run.sh leaves running.
- gitops: examples/gitops/pulumi.yml run as a runner would (tests/actions_runner.py), both jobs.

run.sh starts a sandbox process of its own (a file database); its API calls are counted from that
process's request log through the admin API (`/_sandbox/requests`), cleared before each step. Tests
that use the session's sandbox count them from its log directly. Nothing secret is printed: output
quoted in a failure message has its onboarding links, entry URLs' signatures and tokens replaced.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import requests
import yaml

from pulumi_spaceinvoices.onboarding_entry import entry_url
from tests.actions_runner import Runner, load_workflow, machine_path
from tests.realengine import PASSPHRASE, require_cli
from tests.support import RemoteSandbox, api_calls, live_secret_key, serve_http

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
MULTI_ORG = EXAMPLES / "multi-org"
RUN_SCRIPT = EXAMPLES / "quickstart" / "run.sh"
WORKFLOW = EXAMPLES / "gitops" / "pulumi.yml"
# run.sh keeps the quickstart project's stack config here whatever QUICKSTART_STATE_DIR says (its
# Pulumi.yaml's stackConfigDir is fixed), so the tests that run it set aside a developer's own file and put it back.
ROOT_STACK_CONFIG = ROOT / ".pulumi-state" / "stacks" / "Pulumi.dev.yaml"
# run.sh's Stripe test keys (in the right format: the sandbox accepts any such pair).
QUICKSTART_SECRET_KEY = "sk_test_quickstart0000000000000000"
GITOPS_SECRET_KEY = live_secret_key("gitops0000000000000000000")
GITOPS_ENDPOINT = "https://onboard.platform.example.com"  # examples/gitops: the onboarding endpoint (policy-config.json)

LINK = re.compile(r"https?://\S+?/sandbox/onboarding/[\w-]+")
SIGNATURE = re.compile(r"sig=[^&\s\"']+")  # an entry URL's signature: what makes it open an organization's onboarding


def shown(text: str, *secrets: str) -> str:
    """`text` fit for a failure message: onboarding links, entry URLs' signatures and the given secrets replaced."""
    text = SIGNATURE.sub("sig=<signature>", LINK.sub("<onboarding link>", text))
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<secret>")
    return text


def check(condition: bool, message: str) -> None:
    """An assertion that shows only `message` when it fails: its operands hold entry URLs or links,
    which pytest's assertion rewriting would print."""
    if not condition:
        pytest.fail(message, pytrace=False)


class SandboxProcess(RemoteSandbox):
    """A sandbox started by run.sh, seen through its admin API and its database file."""

    def __init__(self, state: Path) -> None:
        log = (state / "sandbox.log").read_text()
        self.url = re.search(r"^export SPACEINVOICES_API_URL=(\S+)$", log, re.M).group(1)
        self.db = state / "sandbox.db"
        self.pid = int((state / "sandbox.pid").read_text())
        self.demo = requests.post(f"{self.url}/_sandbox/demo", timeout=10).json()  # the same seed on every call

    def admin(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = requests.request(method, f"{self.url}/_sandbox/{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response

    def calls(self) -> Counter[str]:
        """Operations served since the last `clear_requests()`, the pages a browser opens included."""
        return api_calls(self, pages=True)

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Rows of the sandbox's SQLite database, opened read-only."""
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as db:
            return db.execute(sql, args).fetchall()

    def account_active(self, org_id: str) -> list[int]:
        return [row[0] for row in self.rows("SELECT active FROM org_accounts WHERE organization_id = ?", org_id)]

    def connect_active(self, account_id: str) -> list[int]:
        return [row[0] for row in self.rows("SELECT active FROM connect_configs WHERE account_id = ?", account_id)]


class Forms(HTMLParser):
    """The forms of a page: (method, action, ids of the buttons inside, the named inputs' values)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, str | None, list[str], dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self.forms.append(((attributes.get("method") or "get").upper(), attributes.get("action"), [], {}))
        elif tag == "button" and self.forms:
            self.forms[-1][2].append(attributes.get("id") or "")
        elif tag == "input" and self.forms and attributes.get("name"):
            self.forms[-1][3][attributes["name"]] = attributes.get("value") or ""


def submit(page_url: str, button_id: str, browser: requests.Session | None = None) -> requests.Response:
    """Open a page and submit the form that holds the button with its inputs, as a browser would (its
    cookies kept in `browser`; no redirect followed)."""
    browser = browser or requests.Session()
    page = browser.get(page_url, timeout=10)
    assert page.status_code == 200, page.status_code
    forms = Forms()
    forms.feed(page.text)
    [(method, action, _, fields)] = [form for form in forms.forms if button_id in form[2]]
    return browser.request(method, urljoin(page_url, action or ""), data=fields or None, timeout=10,
                           allow_redirects=False)


class Steps:
    """Each step's API calls and wall time, for the summary a test prints at the end (with -s)."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.rows: list[tuple[str, float, Counter[str], list[tuple[str, float]]]] = []

    def record(self, name: str, started: float, calls: Counter[str], parts: Any = ()) -> Counter[str]:
        """`parts`: a job's steps (name and seconds of each), shown under it."""
        self.rows.append((name, time.monotonic() - started, calls, [(p.name, p.seconds) for p in parts]))
        return calls

    def print(self) -> None:
        print(f"\n{self.title}")
        for name, seconds, calls, parts in self.rows:
            print(f"  {seconds:6.1f} s  {sum(calls.values()):3d} calls  {name}  {dict(sorted(calls.items()))}")
            for part, part_seconds in parts:
                print(f"      {part_seconds:6.1f} s  {part}")
        print(f"  {sum(row[1] for row in self.rows):6.1f} s in all")


# ------------------------------------------------------------------------- the quickstart script


class Quickstart:
    """run.sh and the shell a user types its next steps in, with state in a fresh folder."""

    def __init__(self, tmp_path: Path) -> None:
        self.state = tmp_path / "state"
        cli_dir = str(Path(require_cli()).parent)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "SPACEINVOICES_"))
               and k != "VIRTUAL_ENV"},
            # The user's PATH: the CLI on it, no virtualenv (run.sh and env.sh activate .venv themselves).
            "PATH": os.pathsep.join([cli_dir, *machine_path()]),
            # The CLI finds its home through the OS user database, not $HOME: a private one per test.
            "PULUMI_HOME": str(tmp_path / "pulumi-home"),
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "QUICKSTART_STATE_DIR": str(self.state),
        }

    def run_sh(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.shell(f"bash examples/quickstart/run.sh {' '.join(args)}")

    def shell(self, script: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
        """`script` in a new bash, output merged (the user's terminal)."""
        return subprocess.run(["bash", "-c", script], cwd=cwd, env=self.env, text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=300, stdin=subprocess.DEVNULL)


@pytest.fixture
def quickstart(tmp_path: Path) -> Iterator[Quickstart]:
    """A Quickstart whose sandbox is stopped afterwards, with any stack config of the developer's
    own quickstart (ROOT_STACK_CONFIG) set aside during the test and put back after it."""
    require_cli()
    python = ROOT / ".venv" / "bin" / "python"
    check = "import fastapi, uvicorn, pulumi_spaceinvoices; print(pulumi_spaceinvoices.__file__)"
    found = subprocess.run([str(python), "-c", check], capture_output=True, text=True) if python.exists() else None
    if not (found and found.returncode == 0 and found.stdout.strip().startswith(str(ROOT))):
        why = "needs .venv with this checkout and its sandbox installed (bash .ci/run makes it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must run the examples, but run.sh {why}", pytrace=False)
        pytest.skip(why)
    saved = ROOT_STACK_CONFIG.read_bytes() if ROOT_STACK_CONFIG.exists() else None
    made = [folder for folder in (ROOT_STACK_CONFIG.parent.parent, ROOT_STACK_CONFIG.parent) if not folder.exists()]
    ROOT_STACK_CONFIG.unlink(missing_ok=True)
    session = Quickstart(tmp_path)
    try:
        yield session
    finally:
        session.run_sh("stop")
        ROOT_STACK_CONFIG.unlink(missing_ok=True)
        if saved is not None:
            ROOT_STACK_CONFIG.write_bytes(saved)
        for folder in reversed(made):
            shutil.rmtree(folder, ignore_errors=True)


def next_steps(printed: str) -> dict[str, Any]:
    """What run.sh's closing text tells the user to do, as it says it."""
    commands = re.search(r"^  2\. .*?\n((?: {7}\S.*\n)+)", printed, re.M).group(1)
    return {
        "entry": re.search(r"^  entry_url +(\S+)$", printed, re.M).group(1),
        "shell": [line.split("#")[0].strip() for line in commands.splitlines()],
        "pay": re.search(r"the demo invoice can be paid: (\S+)$", printed, re.M).group(1),
        "destroy": re.search(r"Clean up, in examples/quickstart: (pulumi destroy --yes) ", printed).group(1),
        "stop": re.search(r"then (bash run\.sh stop),", printed).group(1),
    }


def test_the_quickstart_as_printed_from_run_sh_to_run_sh_stop(quickstart: Quickstart):
    steps = Steps("quickstart (run.sh's sandbox: rate limit and latency at defaults)")

    started = time.monotonic()
    first = quickstart.run_sh()
    assert first.returncode == 0, shown(first.stdout)
    sandbox = SandboxProcess(quickstart.state)
    demo = sandbox.demo
    signing_key = (quickstart.state / "onboarding-signing-key").read_text().strip()
    secrets = (demo["token"], QUICKSTART_SECRET_KEY, signing_key)
    # Connect (read, enable), the account (read, create); the entry URL is made with no call.
    assert steps.record("run.sh (fresh state)", started, sandbox.calls()) == {
        "get_connect": 1, "enable_connect": 1, "get_account": 1, "create_account": 1}
    assert "charges_enabled      false" in first.stdout
    assert sandbox.connect_active(demo["accountId"]) == [1] and sandbox.account_active(demo["organizationId"]) == [1]
    assert not any(secret in first.stdout for secret in secrets)
    assert len(signing_key) >= 32 and (quickstart.state / "onboarding-signing-key").stat().st_mode & 0o077 == 0
    endpoint_url = f"http://127.0.0.1:{(quickstart.state / 'onboarding.port').read_text().strip()}"
    endpoint_pid = int((quickstart.state / "onboarding.pid").read_text())
    # Stripe sends the admin back to the endpoint: the Connect config's URLs are its routes.
    [(refresh_url, return_url)] = sandbox.rows("SELECT refresh_url, return_url FROM connect_configs WHERE account_id = ?",
                                               demo["accountId"])
    assert (refresh_url, return_url) == (f"{endpoint_url}/refresh", f"{endpoint_url}/return")
    env_file = (quickstart.state / "env.sh").read_text()
    assert f"PULUMI_BACKEND_URL='file://{quickstart.state}/backend'" in env_file
    assert f"export VIRTUAL_ENV='{ROOT}/.venv'" in env_file
    assert (quickstart.state / "passphrase").stat().st_mode & 0o077 == 0  # readable by its owner only

    sandbox.clear_requests()
    started = time.monotonic()
    again = quickstart.run_sh()  # safe to re-run: the same sandbox, endpoint and stack, and no API call
    assert again.returncode == 0, shown(again.stdout, *secrets)
    assert steps.record("run.sh again", started, sandbox.calls()) == {}
    assert f"The sandbox is already running (pid {sandbox.pid})" in again.stdout
    assert f"The onboarding endpoint is already running (pid {endpoint_pid})" in again.stdout
    assert "already installed in .venv" in again.stdout
    assert re.search(r"Resources:\n +3 unchanged", again.stdout), shown(again.stdout, *secrets)
    assert not any(secret in again.stdout for secret in secrets)

    told = next_steps(again.stdout)
    # The entry URL, the same on every run: the organization's page on the endpoint, signed.
    check(told["entry"] == next_steps(first.stdout)["entry"], "the entry URL changed between runs")
    check(re.fullmatch(rf"{re.escape(endpoint_url)}/o/{demo['organizationId']}\?sig=[\w.-]+", told["entry"]) is not None,
          f"not the organization's entry URL on the endpoint: {shown(told['entry'])}")
    assert "onboarding_url" not in again.stdout  # no raw link unless onboardingLinks is set
    source, cd, refresh, up, show = told["shell"]
    assert source == f"source {quickstart.state}/env.sh"
    assert cd == "cd examples/quickstart"  # the project: the root is a plugin package (PulumiPlugin.yaml)
    assert (refresh, up, show) == ("pulumi refresh --yes", "pulumi up --yes", "pulumi stack output charges_enabled")
    assert told["pay"] == f"{sandbox.url}/sandbox/pay/{demo['shareableId']}"

    # 1. The entry URL in one browser (a cookie jar): its page, Continue (the endpoint makes the link
    # and sends the browser to it), the sandbox's onboarding page, Complete, the endpoint's return page.
    browser = requests.Session()
    sandbox.clear_requests()
    started = time.monotonic()
    entry_page = browser.get(told["entry"], timeout=10)
    check(entry_page.status_code == 200 and 'id="continue"' in entry_page.text, f"entry page: {entry_page.status_code}")
    assert steps.record("entry page: open", started, sandbox.calls()) == {}, "the entry page makes no link"
    started = time.monotonic()
    to_stripe = submit(told["entry"], "continue", browser)
    assert steps.record("entry page: Continue to Stripe", started, sandbox.calls()) == {
        "get_account": 1, "create_link": 1}
    check(to_stripe.status_code == 303 and LINK.fullmatch(to_stripe.headers.get("location", "")) is not None,
          f"Continue: {to_stripe.status_code}, not a redirect to the sandbox's onboarding page")
    sandbox.clear_requests()
    started = time.monotonic()
    completed = submit(to_stripe.headers["location"], "complete-onboarding", browser)
    assert steps.record("sandbox onboarding page: open, Complete", started, sandbox.calls()) == {"page_onboarding": 2}
    assert completed.status_code == 303 and completed.headers["location"] == f"{endpoint_url}/return"
    sandbox.clear_requests()
    started = time.monotonic()
    returned = browser.get(completed.headers["location"], timeout=10)
    assert steps.record("endpoint return page", started, sandbox.calls()) == {"get_account": 1}  # reads the account
    check(returned.status_code == 200 and 'data-status="complete"' in returned.text,
          f"return page: {returned.status_code}, not complete")
    assert sandbox.rows("SELECT charges_enabled FROM org_accounts WHERE organization_id = ?",
                        demo["organizationId"]) == [(1,)]

    def typed(command: str) -> subprocess.CompletedProcess[str]:
        """A command typed in the shell step 2 sets up: from the repository root, then the project."""
        sandbox.clear_requests()
        done = quickstart.shell(f"{source} && {cd} && {command}")
        assert done.returncode == 0, shown(done.stdout, *secrets)
        assert not any(secret in done.stdout for secret in secrets)
        return done

    def state_of(type_suffix: str) -> dict[str, Any]:
        [resource] = [r for r in json.loads(typed("pulumi stack export").stdout)["deployment"]["resources"]
                      if r["type"].endswith(type_suffix)]
        return resource["outputs"]

    def outputs() -> dict[str, Any]:
        return json.loads(typed("pulumi stack output --json --show-secrets").stdout)

    # 2. refresh, then up: charges_enabled true in the state, then in the outputs.
    started = time.monotonic()
    typed(refresh)
    # `pulumi refresh` without --skip-preview reads every resource twice: once to show the preview
    # of the refresh, once to apply it. One GET per resource per pass, as ARCHITECTURE.md's Targets say.
    assert steps.record(refresh, started, sandbox.calls()) == {"get_connect": 2, "get_account": 2}
    assert state_of(":OrganizationConnectAccount")["charges_enabled"] is True
    assert outputs()["charges_enabled"] is False  # stack outputs come from the program: the next up
    started = time.monotonic()
    typed(up)
    # The resources make no call, nor does the entry URL.
    assert steps.record(up, started, sandbox.calls()) == {}
    after = outputs()
    assert after["charges_enabled"] is True
    check(after["entry_url"] == told["entry"], "the entry URL changed on up")
    assert typed(show).stdout.strip() == "true"

    # 3. The demo invoice, paid on the pay page.
    sandbox.clear_requests()
    started = time.monotonic()
    paid = submit(told["pay"], "pay-now")
    assert steps.record("pay page: open, submit", started, sandbox.calls()) == {"page_pay": 2}
    assert paid.status_code == 200 and 'id="payment-status" class="status">Paid<' in paid.text
    assert sandbox.rows("SELECT paid FROM invoices WHERE shareable_id = ?", demo["shareableId"]) == [(1,)]

    # 4. Clean up: destroy deactivates both (the API has no delete), then stop the sandbox.
    started = time.monotonic()
    typed(told["destroy"])
    assert steps.record(told["destroy"], started, sandbox.calls()) == {"update_connect": 1, "update_account": 1}
    assert sandbox.connect_active(demo["accountId"]) == [0] and sandbox.account_active(demo["organizationId"]) == [0]
    backend = "".join(p.read_text(errors="replace") for p in (quickstart.state / "backend").rglob("*") if p.is_file())
    signature = told["entry"].rsplit("sig=", 1)[1]
    assert not any(secret in backend + ROOT_STACK_CONFIG.read_text() for secret in (*secrets, signature))

    started = time.monotonic()
    stopped = quickstart.shell(f"{cd} && {told['stop']}")  # where step 4 runs
    steps.record(told["stop"], started, Counter())
    assert f"Stopped the sandbox (pid {sandbox.pid})" in stopped.stdout
    assert f"Stopped the onboarding endpoint (pid {endpoint_pid})" in stopped.stdout
    for pid in (sandbox.pid, endpoint_pid):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    for url in (sandbox.url, endpoint_url):
        with pytest.raises(requests.ConnectionError):
            requests.get(url, timeout=5)
    # The endpoint's log names routes, never the signature, the key, the token, or Stripe's link.
    endpoint_log = (quickstart.state / "onboarding.log").read_text()
    assert " POST entry 303 " in endpoint_log and " GET return 200 " in endpoint_log, shown(endpoint_log, *secrets)
    assert not any(secret in endpoint_log for secret in (*secrets, signature, "sig=", "/sandbox/onboarding/"))
    steps.print()


def tool_dir(path: Path, *tools: str) -> Path:
    """A PATH folder holding only these tools (links to the real ones)."""
    path.mkdir()
    for tool in tools:
        (path / tool).symlink_to(shutil.which(tool))
    return path


def test_run_script_without_the_pulumi_cli_says_how_to_install_it_and_changes_nothing(tmp_path):
    repo = tmp_path / "repo"
    (repo / "examples" / "quickstart").mkdir(parents=True)
    shutil.copy(RUN_SCRIPT, repo / "examples" / "quickstart" / "run.sh")
    shutil.copy(EXAMPLES / "quickstart" / "Pulumi.yaml", repo / "examples" / "quickstart" / "Pulumi.yaml")
    home = tmp_path / "home"
    home.mkdir()
    path = tool_dir(tmp_path / "bin", "dirname", "cat", "python3", "sed", "grep", "mkdir")
    before = sorted(tmp_path.rglob("*"))

    run = subprocess.run(
        [shutil.which("bash"), str(repo / "examples" / "quickstart" / "run.sh")],
        env={"PATH": str(path), "HOME": str(home)}, capture_output=True, text=True, timeout=30,
    )

    assert run.returncode != 0
    assert "The Pulumi CLI is not installed" in run.stderr.splitlines()[0]  # said first
    assert "curl -fsSL https://get.pulumi.com | sh" in run.stderr
    assert "Nothing was changed." in run.stderr
    assert sorted(tmp_path.rglob("*")) == before  # no .venv, no .pulumi-state


# ------------------------------------------------------------------------------------ multi-org


def readme_blocks(readme: Path, heading: str) -> list[str]:
    """The ```bash blocks of one section of a README, in order."""
    text = readme.read_text(encoding="utf-8")
    section = text.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```bash\n(.*?)^```$", section, re.M | re.S)


def copy_example(source: Path, target: Path) -> Path:
    """A copy of an example folder as a user would take it (no stack files, no caches)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "Pulumi.*.yaml", "venv", ".venv"))
    return target


def test_multi_org_readme_steps_as_written_against_the_quickstart_sandbox(quickstart: Quickstart, tmp_path: Path):
    """The README's local steps, each line of its code blocks as written, with two substitutions:
    the quickstart's state folder for `.pulumi-state/` (run.sh ran with QUICKSTART_STATE_DIR), and
    a copy of the example folder for `examples/multi-org` (so no stack file lands in the checkout,
    and the folder is shown to work on its own)."""
    steps = Steps("multi-org (run.sh's sandbox: rate limit and latency at defaults)")
    setup, follow_up = readme_blocks(MULTI_ORG / "README.md", "## Try it against the sandbox")
    started = time.monotonic()
    ran = quickstart.run_sh()
    assert ran.returncode == 0, shown(ran.stdout)
    sandbox = SandboxProcess(quickstart.state)
    steps.record("run.sh (the sandbox)", started, sandbox.calls())
    folder = copy_example(MULTI_ORG, tmp_path / "multi-org")
    shell_state = tmp_path / "shell.sh"  # what the README's later lines need from its first block

    def localized(script: str) -> str:
        assert script.count("cd examples/multi-org") <= 1
        return script.replace(".pulumi-state/", f"{quickstart.state}/").replace("cd examples/multi-org", f"cd {folder}")

    sandbox.clear_requests()
    started = time.monotonic()
    first = quickstart.shell("set -euo pipefail\n" + localized(setup) + f"declare -p URL ACCOUNT_ID TOKEN > {shell_state}\n"
                             f"declare -f post field new_org >> {shell_state}\n")
    token = re.search(r"TOKEN=\"?([^\"\n]+)", shell_state.read_text()).group(1) if shell_state.exists() else ""
    assert first.returncode == 0, shown(first.stdout, token)
    # Only its last command, `pulumi stack output entry_urls --show-secrets`, shows the URLs.
    check("sig=" not in first.stdout.rstrip().rsplit("\n", 1)[0], "an entry URL in block 1's output before it was asked for")
    # Connect (read, enable), two accounts (read, create each); the entry URLs are made with no call.
    assert steps.record("README block 1: stack, config, two organizations, up", started, sandbox.calls()) == {
        "get_connect": 1, "enable_connect": 1, "get_account": 2, "create_account": 2}

    def typed(line: str, *, private: bool = False) -> subprocess.CompletedProcess[str]:
        """One line of the README's second block, in the shell its first block left (`private`: its
        output holds a secret on purpose, such as --show-secrets)."""
        done = quickstart.shell(f"source {quickstart.state}/env.sh && source {shell_state} && cd {folder} && {line}")
        assert done.returncode == 0, shown(f"{line}\n{done.stdout}", token)
        assert token not in done.stdout
        check(private or ("sig=" not in done.stdout and not LINK.search(done.stdout)),
              f"an entry URL or a link in the output of {line}: {shown(done.stdout, token)}")
        return done

    signing_key = typed("pulumi config get spaceinvoices:onboardingSigningKey", private=True).stdout.strip()
    assert len(signing_key) >= 32

    def outputs() -> dict[str, Any]:
        return json.loads(typed("pulumi stack output --json --show-secrets", private=True).stdout)

    def org_of(name: str) -> str:
        return typed(f"pulumi config get --path organizations.{name}").stdout.strip()

    def signed_for(urls: dict[str, str], orgs: dict[str, str]) -> bool:
        """Each URL is its organization's entry URL on the configured endpoint, signed with the stack's key."""
        return urls == {name: entry_url("https://onboard.platform.example.com", org, signing_key)
                        for name, org in orgs.items()}

    acme, globex = org_of("acme"), org_of("globex")
    up = outputs()
    assert up["charges_enabled"] == {"acme": False, "globex": False}
    assert "onboarding_urls" not in up  # raw links only with onboardingLinks: true
    entry_urls = up["entry_urls"]
    check(signed_for(entry_urls, {"acme": acme, "globex": globex}), "entry URLs not signed with the stack's key")
    assert sandbox.account_active(acme) == [1] and sandbox.account_active(globex) == [1]
    config_text = (folder / "Pulumi.dev.yaml").read_text()
    assert signing_key not in config_text and "onboardingSigningKey:\n    secure:" in config_text

    lines = [line for line in follow_up.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(lines) == 8, lines
    add, leave, preview, token_back, remove, no_op, raw_links, destroy = lines

    def step(line: str) -> tuple[subprocess.CompletedProcess[str], Counter[str]]:
        sandbox.clear_requests()
        started = time.monotonic()
        done = typed(line)
        return done, steps.record(line.split("  #")[0].strip(), started, sandbox.calls())

    added, calls = step(add)
    initech = org_of("initech")
    assert calls == {"get_account": 1, "create_account": 1}  # just the new account (read, create)
    assert re.search(r"Resources:\n +\+ 1 created\n +4 unchanged", added.stdout), shown(added.stdout)
    assert sandbox.account_active(initech) == [1]
    after_add = outputs()["entry_urls"]
    check(after_add == {**entry_urls, "initech": after_add.get("initech")}, "the others' entry URLs changed")
    check(signed_for(after_add, {"acme": acme, "globex": globex, "initech": initech}), "Initech's entry URL")

    assert step(leave)[1] == {}
    previewed, calls = step(preview)
    assert calls == {}, "preview without a token: no API call"
    assert re.search(r"Resources:\n +- 1 to delete\n +4 unchanged", previewed.stdout), shown(previewed.stdout)
    assert step(token_back)[1] == {}

    removed, calls = step(remove)
    assert calls == {"update_account": 1}  # Globex alone
    assert re.search(r"Resources:\n +- 1 deleted\n +4 unchanged", removed.stdout), shown(removed.stdout)
    assert [sandbox.account_active(org) for org in (acme, globex, initech)] == [[1], [0], [1]]
    after_remove = outputs()
    assert after_remove["charges_enabled"] == {"acme": False, "initech": False}
    check(after_remove["entry_urls"] == {name: after_add[name] for name in ("acme", "initech")},
          "entry URLs after Globex left: not the other two, unchanged")

    unchanged, calls = step(no_op)
    assert calls == {}, "nothing changed: no API call at all"
    assert re.search(r"Resources:\n +4 unchanged", unchanged.stdout), shown(unchanged.stdout)
    check(outputs()["entry_urls"] == after_remove["entry_urls"], "the entry URLs changed on a no-op up")

    raw, calls = step(raw_links)
    assert calls == {"get_account": 2, "create_link": 2}  # a raw link each for Acme and Initech (read, make)
    with_links = outputs()
    assert sorted(with_links["onboarding_urls"]) == ["acme", "initech"]
    check(all(LINK.fullmatch(url) for url in with_links["onboarding_urls"].values()), "not the sandbox's links")
    check(with_links["entry_urls"] == after_remove["entry_urls"], "the entry URLs changed with onboardingLinks")
    assert step(destroy)[1] == {"update_connect": 1, "update_account": 2}
    assert [sandbox.account_active(org) for org in (acme, globex, initech)] == [[0], [0], [0]]
    [(account_id,)] = sandbox.rows("SELECT account_id FROM organizations WHERE id = ?", acme)
    assert sandbox.connect_active(account_id) == [0]
    assert not (folder / "Pulumi.dev.yaml").exists()  # `pulumi stack rm` took the stack and its config
    steps.print()


def test_multi_org_refuses_an_organization_listed_twice_before_any_call(workspace, sandbox, account):
    acme = sandbox.create_organization(account.id)
    project = workspace.project(MULTI_ORG, config={
        "spaceinvoices:apiUrl": sandbox.url, "spaceinvoices:accessToken": account.token,
        "stripeSecretKey": QUICKSTART_SECRET_KEY, "stripePublishableKey": "pk_test_quickstart0000000000000000",
        "organizations": {"acme": acme, "acme-again": acme}}, secrets={"spaceinvoices:accessToken", "stripeSecretKey"})
    sandbox.clear_requests()
    result = project.up(check=False)
    assert result.returncode != 0
    assert f"organization {acme} is listed twice (acme and acme-again)" in result.stdout, shown(result.stdout)
    assert sandbox.requests() == []
    assert [r["type"] for r in project.resources()] == ["pulumi:pulumi:Stack"]  # no resource of ours in the state


def test_multi_org_ships_an_empty_list():
    assert yaml.safe_load((MULTI_ORG / "organizations.yaml").read_text()) == {}


# ------------------------------------------------------------------------------------- GitOps


def tracked_tree(target: Path) -> Path:
    """The repository as the workflow's checkout gets it: every file `git ls-files` lists, with its
    content from the working tree (so uncommitted changes to tracked files are tested before they
    are committed; untracked files are left out, as a clone would leave them out)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():  # deleted in the working tree: not in the next commit either
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


class Webhook(BaseHTTPRequestHandler):
    """The onboarding mailer's endpoint: keeps every POST (content type, body)."""

    received: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).received.append((self.headers.get("Content-Type", ""), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (quiet: bodies hold links)
        pass


def for_file_backend(stack: str) -> str:
    """The workflow's Pulumi Cloud stack name on a self-managed (file) backend: those backends have
    no organizations, so `org/project/stack` must name the organization literally `organization`
    (what `pulumi stack init my-org/...` on such a backend otherwise refuses)."""
    organization, project, name = stack.split("/")
    return f"organization/{project}/{name}"


def self_managed(workflow: dict[str, Any], backend_url: str) -> dict[str, Any]:
    """The workflow with examples/gitops/README.md's edit for a self-managed backend: `cloud-url:`
    on both `pulumi/actions` steps, PULUMI_CONFIG_PASSPHRASE (a secret) instead of
    PULUMI_ACCESS_TOKEN, and the stack named as such a backend names it."""
    env = dict(workflow["env"])
    assert env.pop("PULUMI_ACCESS_TOKEN") == "${{ secrets.PULUMI_ACCESS_TOKEN }}"
    env["PULUMI_CONFIG_PASSPHRASE"] = "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"
    env["STACK"] = for_file_backend(env["STACK"])
    jobs = {}
    for name, job in workflow["jobs"].items():
        steps = [{**step, "with": {**step["with"], "cloud-url": backend_url}} if step.get("uses", "").startswith(
            "pulumi/actions@") else step for step in job["steps"]]
        jobs[name] = {**job, "steps": steps}
    return {**workflow, "env": env, "jobs": jobs}


# The test runner machine's own settings (every step sees them): no update check and no plugin
# downloads (this machine reaches neither, so an attempt fails at once instead of timing out).
RUNNER_MACHINE = {"PULUMI_SKIP_UPDATE_CHECK": "true", "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true"}


@pytest.mark.timeout(900)
def test_gitops_workflow_jobs_run_as_a_runner_runs_them(tmp_path, workspace, sandbox, account):
    """The pull request's preview, then the merge's up, from examples/gitops/pulumi.yml as shipped
    (with only the README's edit for a self-managed backend: a file backend stands in for Pulumi
    Cloud), each job on a fresh runner (tests/actions_runner.py) with a fresh checkout of the
    repository (`tracked_tree`) and a fresh Python, against the session's sandbox."""
    workflow = load_workflow(WORKFLOW)
    steps = Steps("gitops (the session's sandbox: rate limit and latency at defaults)")

    # The user's repository, set up once from their machine as examples/gitops/README.md says.
    repository = tracked_tree(tmp_path / "repository")
    work_dir = repository / workflow["env"]["WORK_DIR"]
    stack = for_file_backend(workflow["env"]["STACK"])
    orgs = {name: sandbox.create_organization(account.id, name=name) for name in ("acme", "globex", "dormant")}
    (work_dir / "organizations.yaml").write_text(yaml.safe_dump(
        {"acme": orgs["acme"], "globex": orgs["globex"], "dormant": {"id": orgs["dormant"], "active": False}}))

    def on_my_machine(*args: str, input: str | None = None) -> None:
        done = subprocess.run([require_cli(), *args], cwd=work_dir, env=workspace.env, input=input, text=True,
                              capture_output=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr

    on_my_machine("stack", "init", stack)
    # Live keys, as examples/gitops/README.md sets for production (the workflow's policy pack refuses test keys there).
    on_my_machine("config", "set", "--secret", "stripeSecretKey", "--stack", stack, input=GITOPS_SECRET_KEY)
    # The README's `spaceinvoices-onboarding new-key | pulumi config set --secret ...`, by the module.
    signing_key = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-m", "pulumi_spaceinvoices.onboarding",
                                  "new-key"], capture_output=True, text=True, check=True).stdout.strip()
    on_my_machine("config", "set", "--secret", "spaceinvoices:onboardingSigningKey", "--stack", stack,
                  input=signing_key)
    for key, value in {"stripePublishableKey": "pk_live_gitops000000000000000000",
                       "spaceinvoices:onboardingUrl": GITOPS_ENDPOINT,
                       "returnUrl": f"{GITOPS_ENDPOINT}/return",
                       "refreshUrl": f"{GITOPS_ENDPOINT}/refresh",
                       "spaceinvoices:apiUrl": sandbox.url}.items():  # the sandbox instead of the real API
        on_my_machine("config", "set", key, value, "--stack", stack)
    assert (work_dir / f"Pulumi.{stack.rsplit('/', 1)[1]}.yaml").is_file()  # committed with the project

    Webhook.received = []
    with serve_http(Webhook) as webhook:
        secrets = {"PULUMI_CONFIG_PASSPHRASE": PASSPHRASE, "SPACEINVOICES_ACCESS_TOKEN": account.token,
                   "ONBOARDING_WEBHOOK_URL": f"{webhook}/onboarding"}
        runner = Runner(self_managed(workflow, f"file://{workspace.backend}"), repository=repository,
                        cli_dir=str(Path(require_cli()).parent), secrets=secrets, root=tmp_path,
                        env=RUNNER_MACHINE)
        hidden = (account.token, GITOPS_SECRET_KEY, PASSPHRASE, signing_key)

        sandbox.clear_requests()
        started = time.monotonic()
        pull_request = runner.run("pull_request")
        preview = pull_request["preview"]
        calls = steps.record("pull request: job preview", started, api_calls(sandbox, pages=True),
                             preview.steps)
        assert preview.ok, shown(preview.log, *hidden)
        assert not pull_request["up"].ran
        assert not any("SPACEINVOICES_ACCESS_TOKEN" in step.env for step in preview.steps), "preview gets no token"
        assert calls == {}, "preview makes no API call"
        assert re.search(r"Resources:\n +\+ 5 to create", preview.log), shown(preview.log, *hidden)
        # The policy pack ran: multi-org's accounts are not protected, an advisory warning in production.
        assert re.search(r"\[advisory\] +spaceinvoices-protect-live-accounts", preview.log), shown(preview.log, *hidden)
        assert "[mandatory]" not in preview.log, shown(preview.log, *hidden)
        assert not any(secret in preview.log for secret in (*hidden, "sig="))

        sandbox.clear_requests()
        started = time.monotonic()
        push = runner.run("push")
        up = push["up"]
        calls = steps.record("push to main: job up", started, api_calls(sandbox, pages=True),
                             up.steps)
        assert up.ok, shown(up.log, *hidden)
        assert not push["preview"].ran
        # Connect (read, enable); three accounts (read, create); the entry URLs are made with no call.
        assert calls == {"get_connect": 1, "enable_connect": 1, "get_account": 3, "create_account": 3}
        assert sandbox.store.connect_config(account.id)["active"] is True
        assert [sandbox.store.org_account(orgs[name])["active"] for name in ("acme", "globex", "dormant")] == [
            True, True, False]

    # The webhook step handed over each active organization's entry URL, signed with the stack's key
    # (what the endpoint checks), and no raw link; the job's log shows neither.
    [(content_type, body)] = Webhook.received
    entry_urls = json.loads(body)
    assert content_type == "application/json" and sorted(entry_urls) == ["acme", "globex"]
    check(entry_urls == {name: entry_url(GITOPS_ENDPOINT, orgs[name], signing_key) for name in ("acme", "globex")},
          "the webhook did not receive the organizations' entry URLs signed with the stack's key")
    assert sandbox.store.connect_config(account.id)["refresh_url"] == f"{GITOPS_ENDPOINT}/refresh"
    assert LINK.search(up.log) is None, "an onboarding link reached the job's log"
    assert not any(secret in up.log for secret in (*hidden, "sig=")), "a secret or an entry URL reached the job's log"
    steps.print()


def test_gitops_send_step_fails_when_the_links_cannot_be_read(tmp_path):
    """The workflow's last step alone, on a runner where `pulumi stack output` cannot work (no CLI:
    no pulumi/actions step ran): the job must fail rather than report links it never sent."""
    workflow = load_workflow(WORKFLOW)
    [send] = [step for step in workflow["jobs"]["up"]["steps"] if "--show-secrets" in step.get("run", "")]
    repository = tmp_path / "repository"
    (repository / workflow["env"]["WORK_DIR"]).mkdir(parents=True)
    Webhook.received = []
    with serve_http(Webhook) as webhook:
        runner = Runner({**workflow, "jobs": {"up": {"steps": [{"uses": "actions/checkout@v4"}, send]}}},
                        repository=repository, cli_dir=str(tmp_path / "no-cli"), root=tmp_path,
                        secrets={"ONBOARDING_WEBHOOK_URL": f"{webhook}/onboarding"})
        job = runner.run("push")["up"]
    assert not job.ok and "pulumi: command not found" in job.log
    assert all(body == b"" for _, body in Webhook.received)
