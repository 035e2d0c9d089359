"""The examples run as written: each program's lifecycle through the test harness, the quickstart
script (with the Pulumi CLI missing, and with a stand-in CLI backed by the harness), and the shape
of the GitOps workflow.

The Pulumi CLI cannot be installed where these tests run, so the programs run under `Engine`, which
drives the SDK's real dynamic-provider server against the session's sandbox.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.harness import Engine

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
QUICKSTART = EXAMPLES / "quickstart"
MULTI_ORG = EXAMPLES / "multi-org"
RUN_SCRIPT = QUICKSTART / "run.sh"
WORKFLOW = EXAMPLES / "gitops" / "pulumi.yml"

SECRET_KEY = "sk_test_EXAMPLESsecret0123456789"
PUBLIC_KEY = "pk_test_EXAMPLESpublic0123456789"
RESOURCE_STEPS = ("Create", "Update", "Delete")


def project_name(project_file: Path) -> str:
    return yaml.safe_load(project_file.read_text())["name"]


def mutating_requests(sandbox: Any) -> list[str]:
    return [r.operation for r in sandbox.requests() if r.method != "GET"]


@pytest.fixture
def example_engine(sandbox, account):
    """An Engine for an example program, its stack config namespaced like the real project's."""

    def make(program: Path, project_file: Path, token: str | None = account.token, **config: Any) -> Engine:
        project = project_name(project_file)
        stack_config: dict[str, Any] = {
            "spaceinvoices:apiUrl": sandbox.url,
            f"{project}:stripeSecretKey": SECRET_KEY,
            f"{project}:stripePublishableKey": PUBLIC_KEY,
            **{f"{project}:{key}": value for key, value in config.items()},
        }
        secret = {f"{project}:stripeSecretKey"}
        if token is not None:
            stack_config["spaceinvoices:accessToken"] = token
            secret.add("spaceinvoices:accessToken")
        return Engine(program, project=project, stack="dev", config=stack_config, secret_config=secret)

    return make


# ----------------------------------------------------------------------------------- quickstart


def test_the_root_project_runs_the_quickstart_program():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    assert (ROOT / project["main"] / "__main__.py").is_file()
    # With `main` in a subfolder, Pulumi's dynamic-provider plugin resolves a relative `virtualenv`
    # against that subfolder: the root project relies on the activated .venv instead (run.sh, env.sh).
    assert "virtualenv" not in (project["runtime"].get("options") or {})


def test_the_multi_org_project_uses_the_repository_virtualenv():
    project = yaml.safe_load((MULTI_ORG / "Pulumi.yaml").read_text())
    assert "main" not in project  # so the plugin and the language host resolve the path alike
    assert (MULTI_ORG / project["runtime"]["options"]["virtualenv"]).resolve() == ROOT / ".venv"


def test_quickstart_lifecycle(example_engine, sandbox, account, org_id):
    engine = example_engine(QUICKSTART, ROOT / "Pulumi.yaml", organizationId=org_id)

    preview = engine.preview()
    assert sorted(preview.creates) == ["connect", "organization"]
    assert sandbox.requests() == []  # preview: no API call at all

    up = engine.up()
    assert sorted(up.creates) == ["connect", "organization"]
    assert sandbox.store.connect_config(account.id)["active"] is True
    assert sandbox.store.org_account(org_id)["active"] is True
    assert up.outputs["organization_id"] == org_id
    assert up.outputs["charges_enabled"] is False
    assert up.outputs["onboarding_url"].startswith(f"{sandbox.url}/sandbox/onboarding/")
    assert {"onboarding_url"} <= up.secret_outputs and "charges_enabled" not in up.secret_outputs
    assert SECRET_KEY not in engine.state_json() and account.token not in engine.state_json()

    sandbox.clear_requests()
    again = engine.up()
    assert sorted(again.sames) == ["connect", "organization"]
    assert again.calls_to(*RESOURCE_STEPS) == []  # the resources: no change, no call
    # The onboarding link is made anew on every up, by design (links are single-use and expire in
    # minutes): one read of the account and one new link. Nothing else reaches the API.
    assert [r.operation for r in sandbox.requests()] == ["get_account", "create_link"]
    assert again.outputs["onboarding_url"] != up.outputs["onboarding_url"]

    engine.config[f"{engine.project}:active"] = "false"
    sandbox.clear_requests()
    change = engine.up()
    assert change.updates == ["organization"] and change.sames == ["connect"]
    assert mutating_requests(sandbox) == ["update_account", "create_link"]
    assert sandbox.store.org_account(org_id)["active"] is False

    engine.config[f"{engine.project}:active"] = "true"
    engine.up()
    sandbox.store.set_charges_enabled(org_id, True)  # the organization finished onboarding at Stripe
    sandbox.clear_requests()
    refresh = engine.refresh()
    assert "organization" in refresh.updates
    assert sorted(r.operation for r in sandbox.requests()) == ["get_account", "get_connect"]
    assert engine.by_name("organization").plain_outputs["charges_enabled"] is True
    after = engine.up()
    assert after.outputs["charges_enabled"] is True
    assert after.outputs["onboarding_url"] is None  # onboarding complete: no link is made

    sandbox.clear_requests()
    engine.destroy()
    assert sorted(mutating_requests(sandbox)) == ["update_account", "update_connect"]
    assert sandbox.store.org_account(org_id)["active"] is False
    assert sandbox.store.connect_config(account.id)["active"] is False
    assert engine.state == {}


# ------------------------------------------------------------------------------------ multi-org


def write_organizations(path: Path, organizations: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(organizations), encoding="utf-8")


def test_multi_org_adds_and_removes_one_organization_at_a_time(example_engine, sandbox, account, tmp_path):
    orgs = {name: sandbox.create_organization(account.id, name=name) for name in ("acme", "globex", "initech")}
    listing = tmp_path / "organizations.yaml"
    write_organizations(listing, {"acme": orgs["acme"], "globex": {"id": orgs["globex"]}})
    engine = example_engine(MULTI_ORG, MULTI_ORG / "Pulumi.yaml", organizationsFile=str(listing))

    up = engine.up()
    assert sorted(up.creates) == ["acme", "connect", "globex"]
    assert up.outputs["charges_enabled"] == {"acme": False, "globex": False}
    assert set(up.outputs["onboarding_urls"]) == {"acme", "globex"}
    assert all(url.startswith(f"{sandbox.url}/sandbox/onboarding/") for url in up.outputs["onboarding_urls"].values())
    assert "onboarding_urls" in up.secret_outputs and "charges_enabled" not in up.secret_outputs

    engine.config[f"{engine.project}:onboardingLinks"] = "false"
    sandbox.clear_requests()
    again = engine.up()
    assert sorted(again.sames) == ["acme", "connect", "globex"]
    assert again.calls_to(*RESOURCE_STEPS) == [] and sandbox.requests() == []  # no links asked: zero calls
    assert again.outputs["onboarding_urls"] == {}

    write_organizations(listing, {"acme": orgs["acme"], "globex": orgs["globex"], "initech": orgs["initech"]})
    sandbox.clear_requests()
    added = engine.up()
    assert added.creates == ["initech"] and added.deletes == [] and added.updates == []
    assert [c.method for c in added.calls_to(*RESOURCE_STEPS)] == ["Create"]
    assert mutating_requests(sandbox) == ["create_account"]

    write_organizations(listing, {"acme": orgs["acme"], "initech": orgs["initech"]})
    sandbox.clear_requests()
    removed = engine.up()
    assert removed.deletes == ["globex"] and removed.creates == [] and removed.updates == []
    assert mutating_requests(sandbox) == ["update_account"]
    assert sandbox.store.org_account(orgs["globex"])["active"] is False
    assert sandbox.store.org_account(orgs["acme"])["active"] is True
    assert removed.outputs["charges_enabled"] == {"acme": False, "initech": False}

    sandbox.store.set_charges_enabled(orgs["acme"], True)
    engine.refresh()
    assert engine.by_name("acme").plain_outputs["charges_enabled"] is True
    assert engine.up().outputs["charges_enabled"] == {"acme": True, "initech": False}

    engine.destroy()
    assert not any(sandbox.store.org_account(org)["active"] for org in orgs.values())
    assert sandbox.store.connect_config(account.id)["active"] is False


def test_multi_org_reads_the_list_from_stack_config_and_previews_without_a_token(example_engine, sandbox, account):
    acme = sandbox.create_organization(account.id, name="Acme")
    listed = {"organizations": {"acme": acme, "dormant": {"id": sandbox.create_organization(account.id), "active": False}}}

    preview = example_engine(MULTI_ORG, MULTI_ORG / "Pulumi.yaml", token=None, **listed).preview()
    assert sorted(preview.creates) == ["acme", "connect", "dormant"]
    assert sandbox.requests() == []  # what a pull request's preview needs: no API token, no call

    up = example_engine(MULTI_ORG, MULTI_ORG / "Pulumi.yaml", **listed).up()
    assert up.outputs["charges_enabled"] == {"acme": False, "dormant": False}
    assert set(up.outputs["onboarding_urls"]) == {"acme"}  # no link for an inactive account
    assert sandbox.store.org_account(acme)["active"] is True


def test_multi_org_refuses_an_organization_listed_twice(example_engine, sandbox, account):
    acme = sandbox.create_organization(account.id)
    engine = example_engine(MULTI_ORG, MULTI_ORG / "Pulumi.yaml", organizations={"acme": acme, "acme-again": acme})
    result = engine.up(raise_on_error=False)
    assert not result.ok and f"organization {acme} is listed twice (acme and acme-again)" in result.errors[0]
    assert sandbox.requests() == [] and engine.state == {}


def test_multi_org_ships_an_empty_list(example_engine):
    assert yaml.safe_load((MULTI_ORG / "organizations.yaml").read_text()) == {}


# ------------------------------------------------------------------------- the quickstart script

# A stand-in `pulumi` for the commands run.sh uses, backed by the harness: `up` runs the program of
# the Pulumi.yaml in the working directory through `Engine`, and the stack (config and checkpoint)
# is kept in the file backend, so the script's whole path runs where the real CLI cannot be installed.
FAKE_PULUMI = '''
import json, os, sys
from pathlib import Path

args = sys.argv[1:]
with open(os.environ["FAKE_PULUMI_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")


def die(message):
    print(f"fake pulumi: {message}", file=sys.stderr)
    sys.exit(2)


backend = os.environ.get("PULUMI_BACKEND_URL", "")
passphrase_file = os.environ.get("PULUMI_CONFIG_PASSPHRASE_FILE", "")
if not backend.startswith("file://") or not Path(backend[len("file://"):]).is_dir():
    die("PULUMI_BACKEND_URL must be the file:// URL of a folder")
if not os.path.isfile(passphrase_file) or "PULUMI_CONFIG_PASSPHRASE" in os.environ:
    die("the passphrase must come from PULUMI_CONFIG_PASSPHRASE_FILE alone")
import yaml

project = yaml.safe_load(Path("Pulumi.yaml").read_text())
store_path = Path(backend[len("file://"):]) / "fake-stack.json"
store = json.loads(store_path.read_text()) if store_path.exists() else {
    "stack": None, "config": {}, "secret": [], "checkpoint": None, "outputs": {}}

if args[:2] == ["stack", "select"] and "--create" in args:
    store["stack"] = args[-1]
elif args[:2] == ["config", "set"]:
    rest = [arg for arg in args[2:] if arg != "--secret"]
    key = rest[0] if ":" in rest[0] else f"{project['name']}:{rest[0]}"
    store["config"][key] = rest[1] if len(rest) > 1 else sys.stdin.read()
    if "--secret" in args:
        store["secret"].append(key)
elif args == ["up", "--yes"] and store["stack"]:
    import shutil

    # Pulumi runs the program and the dynamic provider with the python3 on PATH (no virtualenv option).
    if not shutil.which("python3").startswith(os.path.join(os.getcwd(), ".venv", "bin")):
        die(f"python3 on PATH is {shutil.which('python3')}, not the project's .venv")
    from tests.harness import Engine

    engine = Engine(Path(project["main"]).resolve(), project=project["name"], stack=store["stack"],
                    config=store["config"], secret_config=store["secret"],
                    passphrase=Path(passphrase_file).read_text().strip())
    if store["checkpoint"]:
        engine.load_state_json(store["checkpoint"])
    result = engine.up(raise_on_error=False)
    store["checkpoint"] = engine.state_json()
    print(f"Resources: {len(result.creates)} created, {len(result.updates)} updated, {len(result.sames)} unchanged")
    if not result.ok:
        Path(store_path).write_text(json.dumps(store))
        die("\\n".join(result.errors))
    store["outputs"] = result.outputs
elif args == ["stack", "output", "--json", "--show-secrets"]:
    print(json.dumps(store["outputs"], indent=2))
else:
    die(f"not a command this stand-in knows: {args}")
store_path.write_text(json.dumps(store))
'''


def venv_has_this_checkout() -> bool:
    python = ROOT / ".venv" / "bin" / "python"
    check = "import fastapi, uvicorn, pulumi_spaceinvoices; print(pulumi_spaceinvoices.__file__)"
    found = subprocess.run([str(python), "-c", check], capture_output=True, text=True) if python.exists() else None
    return bool(found and found.returncode == 0 and found.stdout.strip().startswith(str(ROOT)))


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
    shutil.copy(ROOT / "Pulumi.yaml", repo / "Pulumi.yaml")
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


@pytest.fixture
def quickstart_env(tmp_path) -> Iterator[dict[str, str]]:
    """The environment of a run.sh run: a stand-in `pulumi` first on PATH, state under tmp_path."""
    if not venv_has_this_checkout():
        pytest.skip("needs .venv with this checkout and its sandbox installed (bash .ci/run makes it)")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "pulumi"
    fake.write_text(f"#!{sys.executable}\n" + FAKE_PULUMI)
    fake.chmod(0o755)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "SPACEINVOICES_"))},
        # The script must activate .venv itself: start from a PATH without it.
        "PATH": os.pathsep.join([str(bin_dir)] + [part for part in os.environ["PATH"].split(os.pathsep)
                                                  if Path(part) != ROOT / ".venv" / "bin"]),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "QUICKSTART_STATE_DIR": str(tmp_path / "state"),
        "FAKE_PULUMI_LOG": str(tmp_path / "pulumi-calls.jsonl"),
    }
    yield env
    stop = subprocess.run(["bash", str(RUN_SCRIPT), "stop"], env=env, capture_output=True, text=True, timeout=30)
    assert stop.returncode == 0, stop.stderr


def run_quickstart(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(RUN_SCRIPT), *args], env=env, cwd=str(ROOT), capture_output=True, text=True,
                          timeout=120)


def test_run_script_starts_the_sandbox_runs_up_and_says_what_to_do_next(quickstart_env, tmp_path):
    first = run_quickstart(quickstart_env)
    assert first.returncode == 0, first.stdout + first.stderr
    state = tmp_path / "state"
    api_url = re.search(r"^export SPACEINVOICES_API_URL=(\S+)$", (state / "sandbox.log").read_text(), re.M).group(1)
    demo = requests.post(f"{api_url}/_sandbox/demo", timeout=10).json()

    # The stack was made the way the README says, with secrets read from stdin, never from argv.
    calls = [json.loads(line) for line in (tmp_path / "pulumi-calls.jsonl").read_text().splitlines()]
    assert ["stack", "select", "--create", "--secrets-provider", "passphrase", "dev"] in calls
    assert ["config", "set", "--secret", "spaceinvoices:accessToken"] in calls
    assert ["config", "set", "organizationId", demo["organizationId"]] in calls
    assert ["up", "--yes"] in calls
    assert not any(demo["token"] in arg for call in calls for arg in call)

    # The program ran against the sandbox: the demo organization has an active Connect account.
    account = requests.get(f"{api_url}/v1/organizations/{demo['organizationId']}/stripe-connect/account",
                           headers={"Authorization": demo["token"]}, timeout=10)
    assert account.status_code == 200 and account.json()["active"] is True

    link = re.search(r"onboarding_url +(\S+)", first.stdout).group(1)
    assert link.startswith(f"{api_url}/sandbox/onboarding/")
    assert "Complete onboarding" in requests.get(link, timeout=10).text
    assert "charges_enabled      false" in first.stdout
    for step in ("pulumi refresh --yes", "pulumi up --yes", "pulumi destroy --yes", "run.sh stop",
                 f"{api_url}/sandbox/pay/{demo['shareableId']}"):
        assert step in first.stdout
    env_file = (state / "env.sh").read_text()
    assert f"PULUMI_BACKEND_URL='file://{state}/backend'" in env_file
    assert f"export VIRTUAL_ENV='{ROOT}/.venv'" in env_file
    assert (state / "passphrase").stat().st_mode & 0o077 == 0  # readable by its owner only

    pid = int((state / "sandbox.pid").read_text())
    again = run_quickstart(quickstart_env)  # re-running is safe: same sandbox, nothing new
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"The sandbox is already running (pid {pid})" in again.stdout
    assert "already installed in .venv" in again.stdout
    assert "Resources: 0 created, 0 updated, 2 unchanged" in again.stdout

    stop = run_quickstart(quickstart_env, "stop")
    assert f"Stopped the sandbox (pid {pid})" in stop.stdout
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


# ------------------------------------------------------------------------------------- GitOps


def workflow_steps(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [step for step in job["steps"] if step.get("uses", "").startswith(action)]


def test_gitops_workflow_previews_pull_requests_and_updates_main_with_the_token_from_a_secret():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers["pull_request"]["branches"] == ["main"] and triggers["push"]["branches"] == ["main"]
    assert (ROOT / workflow["env"]["WORK_DIR"] / "Pulumi.yaml").is_file()
    jobs = workflow["jobs"]

    preview = workflow_steps(jobs["preview"], "pulumi/actions@")
    assert "pull_request" in jobs["preview"]["if"] and [s["with"]["command"] for s in preview] == ["preview"]
    assert "SPACEINVOICES_ACCESS_TOKEN" not in yaml.safe_dump(jobs["preview"])  # preview needs no token

    up = workflow_steps(jobs["up"], "pulumi/actions@")
    assert "push" in jobs["up"]["if"] and [s["with"]["command"] for s in up] == ["up"]
    assert up[0]["env"]["SPACEINVOICES_ACCESS_TOKEN"] == "${{ secrets.SPACEINVOICES_ACCESS_TOKEN }}"
    assert all(step["uses"] == "pulumi/actions@v6" for step in preview + up)

    # The links leave through a pipe, never printed or handed on as step outputs.
    send = [step for step in jobs["up"]["steps"] if "--show-secrets" in step.get("run", "")]
    assert len(send) == 1 and "| curl" in send[0]["run"] and "echo" not in send[0]["run"]
    assert "steps." not in WORKFLOW.read_text()
