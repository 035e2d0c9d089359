"""Pulumi's self-managed PostgreSQL backend (`postgres://…`, a DIY backend) under the real CLI, with
examples/multi-org against the sandbox: the state where a team keeps it, with its lock.

- A stack's lifecycle on it: up, a no-change preview, destroy, with the calls counted, and the
  checkpoint in the database (not on disk).
- Two stacks (two Space Invoices accounts) running at once on one backend: both complete.
- The same stack started twice at once: the backend's lock lets one run; the other stops with the
  CLI's "currently locked" message and changes nothing; afterwards every organization has exactly
  one account, in the API and in the state, and an `up` with nothing changed calls nothing.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.lifecycle import Step, run_steps
from tests.realengine import ROOT, Workspace, require_cli
from tests.support import api_calls

pytestmark = pytest.mark.postgres

MULTI_ORG = ROOT / "examples" / "multi-org"
SECRET_KEY = "sk_test_PostgresBackend0000"
ORGS = 6
CREATE_CALLS = {"get_connect": 1, "enable_connect": 1, "get_account": ORGS, "create_account": ORGS}


@pytest.fixture
def on_postgres(tmp_path, postgres_backend, sandbox):
    """multi-org stacks on one PostgreSQL backend: make(stack, account) -> (project, organization ids)."""
    workspace = Workspace(tmp_path, extra_env={"PULUMI_BACKEND_URL": postgres_backend})

    def make(stack: str, account):
        orgs = {f"org-{i}": sandbox.create_organization(account.id) for i in range(ORGS)}
        project = workspace.project(MULTI_ORG, stack=stack, config={
            "spaceinvoices:apiUrl": sandbox.url, "spaceinvoices:accessToken": account.token,
            "stripeSecretKey": SECRET_KEY, "stripePublishableKey": "pk_test_PostgresBackend0000",
            "organizations": orgs, "spaceinvoices:onboardingUrl": "https://onboard.platform.example.com",
            "spaceinvoices:onboardingSigningKey": "postgres-backend-onboarding-signing-key-0123"},
            secrets={"spaceinvoices:accessToken", "stripeSecretKey", "spaceinvoices:onboardingSigningKey"})
        return project, list(orgs.values())

    return make


def start_up(project) -> subprocess.Popen[str]:
    """`pulumi up` of `project` in the background, as another runner would start it."""
    return subprocess.Popen([require_cli(), "up", "--yes", "--skip-preview", "--stack", project.stack_name],
                            cwd=project.folder, env={**project.workspace.env, **project.env}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_a_stack_lives_on_the_postgres_backend(on_postgres, sandbox, account, postgres, postgres_backend, tmp_path):
    project, orgs = on_postgres("dev", account)

    def on_the_backend(_):
        assert not (tmp_path / "state" / ".pulumi").exists(), "nothing went to the file backend"
        database = postgres_backend.rsplit("/", 1)[1].split("?", 1)[0]
        assert int(postgres.sql("SELECT count(*) FROM pulumi_state", database)) > 0
        assert len(project.resources(":OrganizationConnectAccount")) == ORGS

    def no_change():
        project.preview("--expect-no-changes")
        return project.up()

    def deactivated(_):
        assert all(sandbox.store.org_account(org)["active"] is False for org in orgs)

    run_steps(sandbox, project, [
        Step("up", project.up, calls=CREATE_CALLS, then=on_the_backend),
        Step("a no-change preview, then up", no_change, changes={}, calls={},
             why="a no-change preview and up call nothing"),
        Step("destroy", project.destroy, calls={"update_connect": 1, "update_account": ORGS}, then=deactivated),
    ])


def test_two_stacks_run_at_once_on_one_backend(on_postgres, sandbox):
    first, second = sandbox.create_account(email="a@example.com"), sandbox.create_account(email="b@example.com")
    (one, one_orgs), (two, two_orgs) = on_postgres("one", first), on_postgres("two", second)
    sandbox.clear_requests()
    runs = [start_up(one), start_up(two)]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert api_calls(sandbox, account=first) == CREATE_CALLS and api_calls(sandbox, account=second) == CREATE_CALLS
    for project in (one, two):
        assert len(project.resources(":OrganizationConnectAccount")) == ORGS
    assert all(sandbox.store.count_org_accounts(org) == 1 for org in one_orgs + two_orgs)


def test_the_same_stack_twice_at_once_one_run_holds_the_lock_and_nothing_is_lost(on_postgres, sandbox, account):
    project, orgs = on_postgres("dev", account)
    runs = [start_up(project), start_up(project)]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    codes = sorted(run.returncode for run in runs)
    assert codes[0] == 0 and codes[1] != 0, outputs
    refused = outputs[[run.returncode for run in runs].index(codes[1])]
    assert "the stack is currently locked" in refused, refused
    assert all(sandbox.store.count_org_accounts(org) == 1 for org in orgs)
    assert sorted(r["outputs"]["organization_id"] for r in project.resources(":OrganizationConnectAccount")) == \
        sorted(orgs)
    sandbox.clear_requests()
    project.up()
    assert api_calls(sandbox) == {}


def test_the_fleet_lists_ten_stacks_on_postgres_where_a_plain_stack_ls_waits_forever(tmp_path, postgres_backend):
    """The CLI's PostgreSQL backend (3.274.1) lists stacks with 10 workers from a pool of 2 x GOMAXPROCS
    connections, each worker holding one while it asks for another: with 10 stacks on a machine of up
    to 5 cores `pulumi stack ls` waits forever. The fleet lists with one worker (runner.DIY_PARALLEL)."""
    from pulumi_spaceinvoices.fleet.runner import DIY_PARALLEL, Fleet

    workspace = Workspace(tmp_path, extra_env={"PULUMI_BACKEND_URL": postgres_backend})
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "Pulumi.yaml").write_text("name: spaceinvoices-fleet\nruntime: python\n")
    names = [f"shard-{i:02d}" for i in range(10)]
    for name in names:
        subprocess.run([require_cli(), "stack", "init", name], cwd=folder, env=workspace.env, check=True,
                       capture_output=True, timeout=60)

    if len(os.sched_getaffinity(0)) <= 5:  # CI's machines have 2: the upstream hang, still there
        with pytest.raises(subprocess.TimeoutExpired):
            subprocess.run([require_cli(), "stack", "ls", "--json"], cwd=folder, env=workspace.env,
                           capture_output=True, timeout=15)

    env = {k: v for k, v in workspace.env.items() if k.startswith("PULUMI_")}
    fleet = Fleet(project="spaceinvoices-fleet", root=tmp_path / "fleet", env=env)
    assert fleet.env[DIY_PARALLEL] == "1"
    assert fleet.stacks() == names
