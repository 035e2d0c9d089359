"""examples/fleet-ci/workflow.yml as shipped, run job by job the way a runner runs it
(tests/actions_runner.py): the connect job, then the shard matrix (3 jobs at once, each on a fresh
runner with a fresh checkout and Python), every job on one PostgreSQL backend and one token, against
the session's sandbox at its 100 requests/s limit. The next push's shard jobs find their shards
unchanged and skip them without starting an engine; a pull request that adds an organization gets a
preview job that names the one shard it touches. Each step's time is printed (pytest -s shows it).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from pulumi_spaceinvoices.fleet.layout import shard_of
from tests.actions_runner import Runner, load_workflow
from tests.realengine import PASSPHRASE, require_cli
from tests.support import api_calls
from tests.test_examples import RUNNER_MACHINE, tracked_tree

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "examples" / "fleet-ci" / "workflow.yml"
SECRET_KEY = "sk_test_FleetCiSecretKey00000wxyz"


@pytest.mark.timeout(1500)
def test_fleet_ci_workflow_runs_connect_then_three_shard_jobs_at_once_on_one_backend(
        tmp_path, sandbox, account, postgres_backend):
    workflow = load_workflow(WORKFLOW)
    shards = int(workflow["env"]["SHARDS"])
    assert workflow["jobs"]["shards"]["strategy"]["matrix"]["shard"] == list(range(shards))

    repository = tracked_tree(tmp_path / "repository")
    orgs = [sandbox.create_organization(account.id, name=f"Org {i}") for i in range(9)]
    listing = repository / workflow["env"]["FLEET"] / "organizations.yaml"
    listing.write_text(yaml.safe_dump([{"id": org, "name": f"Org {i}"} for i, org in enumerate(orgs)]))

    secrets = {"PULUMI_BACKEND_URL": postgres_backend, "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
               "SPACEINVOICES_ACCESS_TOKEN": account.token, "SPACEINVOICES_API_URL": sandbox.url,
               "STRIPE_SECRET_KEY": SECRET_KEY}
    machine = {**RUNNER_MACHINE, **({"PIP_CACHE_DIR": os.environ["PIP_CACHE_DIR"]} if "PIP_CACHE_DIR" in os.environ
                                    else {})}
    runner = Runner(workflow, repository=repository, cli_dir=str(Path(require_cli()).parent), secrets=secrets,
                    root=tmp_path, env=machine, timeout=900)
    hidden = (account.token, SECRET_KEY, PASSPHRASE, postgres_backend)

    def run(job: str, event: str = "push") -> dict:
        sandbox.clear_requests()
        results = {name: r for name, r in runner.run(event, jobs=[job]).items() if r.ran}
        for result in results.values():
            assert result.ok, result.log[-6000:]
            assert not any(secret in result.log for secret in hidden), f"{result.name}: a secret in the log"
            for step in result.steps:
                print(f"{event} {result.name}: {step.seconds:6.1f} s  {step.name[:90]}")
        return results

    def job_summary(job, name: str = "summary.json") -> dict:  # in RUNNER_TEMP of the job's runner
        return json.loads((Path(job.workspace).parent.parent / "temp" / name).read_text())

    run("connect")
    assert api_calls(sandbox) == {"get_connect": 1, "enable_connect": 1}
    assert sandbox.store.connect_config(account.id)["active"]

    jobs = run("shards")
    assert sorted(jobs) == [f"shards ({i})" for i in range(shards)]
    assert api_calls(sandbox) == {"get_account": 9, "create_account": 9}, "each organization created once"
    assert not [r for r in sandbox.requests() if r.status == 429], "three jobs on one token: no 429"
    assert all(sandbox.store.org_account(org)["active"] for org in orgs)
    summaries = [job_summary(jobs[f"shards ({i})"]) for i in range(shards)]
    for i, summary in enumerate(summaries):
        [stack] = summary["stacks"]
        assert stack["stack"] == f"shard-{i:02d}" and stack["result"] == "succeeded"
        assert summary["requests_per_second"] == pytest.approx(31.6), "the job's share of the token"
    assert sum(summary["stacks"][0]["created"] for summary in summaries) == 9

    again = run("shards")  # the next push: nothing changed
    assert api_calls(sandbox) == {}, "a second run of the matrix makes no call"
    for i in range(shards):
        job = again[f"shards ({i})"]
        assert job_summary(job)["unchanged"] == [f"shard-{i:02d}"], "its engine was not started"
        assert job.steps[-1].seconds < 30, f"an unchanged shard's job step took {job.steps[-1].seconds:.1f} s"

    # A pull request that adds one organization: the preview job runs that shard only, and says why.
    added = sandbox.create_organization(account.id, name="Added")
    listing.write_text(yaml.safe_dump([{"id": org, "name": f"Org {i}"} for i, org in enumerate([*orgs, added])]))
    [preview] = run("preview", "pull_request").values()
    home = f"shard-{shard_of(added, shards):02d}"
    assert f"{home}: would run: added 1" in preview.log
    assert sorted(job_summary(preview, "preview.json")["unchanged"]) == sorted(
        ["connect", *(f"shard-{i:02d}" for i in range(shards) if f"shard-{i:02d}" != home)])
    assert "--policy-pack" in preview.steps[-1].name and api_calls(sandbox) == {}, "a preview calls nothing"
