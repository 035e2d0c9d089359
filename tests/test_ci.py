"""CI on every push: .github/workflows/ci.yml, and `.ci/run` (the README's test command) as GitHub's
runners run it.

The workflow's job runs as a runner runs it (tests/actions_runner.py), on a clone of a branch pushed
to a local bare remote, with `SPACEINVOICES_CI_UNTIL=checks`: `.ci/run` installs what is missing,
runs ruff, mypy and the generated files' check, and stops before the whole suite (which this very
session is part of). Then `.ci/run`'s setup runs as a non-root user with passwordless sudo, what
GitHub's runners are (a user made for the test, on a copy of the repository), with its package
install through sudo, and the PostgreSQL backend's tests run as that user on the PostgreSQL it found.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.generate import CLI_VERSION
from tests.actions_runner import Runner, load_workflow
from tests.realengine import require_cli
from tests.test_examples import RUNNER_MACHINE, tracked_tree
from tests.test_release import git, readme_test_command

pytestmark = pytest.mark.release

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
IN_CI = os.environ.get("CI", "").lower() == "true"


# ------------------------------------------------------------------------------ the workflow file


def test_the_ci_workflow_runs_the_readme_s_test_command_on_every_push_and_pull_request(tmp_path):
    workflow = load_workflow(WORKFLOW)
    runner = Runner(workflow, repository=tmp_path, cli_dir="", secrets={}, root=tmp_path)
    for event, branch in (("push", "main"), ("push", "feature/a-b"), ("pull_request", "main")):
        assert runner.triggered_by(event, branch), f"{event} to {branch}"
    assert not runner.triggered_by("push", "main", "v1.0.0"), "a tag runs release.yml's test job instead"
    [job] = workflow["jobs"].values()
    assert job["runs-on"] == "ubuntu-latest"
    steps = job["steps"]
    [checkout] = [step for step in steps if step.get("uses", "").startswith("actions/checkout@")]
    assert checkout["with"]["fetch-depth"] == 0, "the upgrade tests build earlier releases from the history"
    [cli] = [step for step in steps if step.get("uses", "").startswith("pulumi/actions@")]
    assert f"v{cli['with']['pulumi-version']}" == CLI_VERSION, "the CLI sdk/ is generated with"
    assert steps[-1]["run"].split("#")[0].strip() == readme_test_command()


@pytest.mark.timeout(1500)
def test_the_ci_workflow_s_steps_run_as_a_runner_runs_them_up_to_the_test_suite(tmp_path):
    """Every step of the job, `.ci/run` included (setup, ruff, mypy, the generated files' check) on
    a fresh clone of a pushed branch; SPACEINVOICES_CI_UNTIL=checks stops it before pytest."""
    tree = tracked_tree(tmp_path / "tree")
    identity = ["-c", "user.name=CI Test", "-c", "user.email=ci@example.com"]
    git("init", "--quiet", "--initial-branch", "main", cwd=tree)
    git("add", "--all", cwd=tree)
    git(*identity, "commit", "--quiet", "-m", "a push", cwd=tree)
    remote = tmp_path / "remote.git"
    git("clone", "--quiet", "--bare", str(tree), str(remote), cwd=tmp_path)
    machine = {**RUNNER_MACHINE, "PIP_CACHE_DIR": str(Path.home() / ".cache" / "pip"),
               "npm_config_cache": str(Path.home() / ".npm"), "SPACEINVOICES_CI_UNTIL": "checks"}
    runner = Runner(load_workflow(WORKFLOW), repository=remote, cli_dir=str(Path(require_cli()).parent),
                    secrets={}, root=tmp_path, env=machine, timeout=1200)
    job = runner.run("push", branch="main")["test"]
    assert job.ok, job.log
    ci_run = job.steps[-1].output
    assert "PostgreSQL: /usr/lib/postgresql/" in ci_run and "warning:" not in ci_run, ci_run
    assert "All checks passed!" in ci_run, "ruff"
    assert "Success: no issues found" in ci_run, "mypy"
    assert "checks done" in ci_run
    print(*(f"{step.name}: {step.seconds:.0f}s" for step in job.steps), sep="\n")


# ------------------------------------------------------------------------ as a non-root user (GitHub's)


@pytest.fixture
def sudo_user() -> Iterator[str]:
    """A user with a home and passwordless sudo, as on GitHub's runners; removed afterwards."""
    if os.geteuid() != 0:
        pytest.skip("makes a user, so runs as root; as a non-root user .ci/run itself is the test")
    if shutil.which("sudo") is None:
        installed = subprocess.run(["apt-get", "install", "-y", "-qq", "sudo"], capture_output=True, text=True,
                                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        if installed.returncode != 0:
            message = f"sudo is not installed and apt-get could not install it:\n{installed.stderr}"
            if IN_CI:
                pytest.fail(message)
            pytest.skip(message)
    name = f"si-ci-{secrets.token_hex(3)}"
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name], check=True)
    sudoers = Path("/etc/sudoers.d") / name
    try:
        sudoers.write_text(f"{name} ALL=(ALL) NOPASSWD:ALL\n")
        sudoers.chmod(0o440)
        yield name
    finally:
        sudoers.unlink(missing_ok=True)
        subprocess.run(["userdel", "--remove", name], capture_output=True)


@pytest.mark.timeout(1500)
def test_ci_run_s_setup_and_the_postgres_tests_pass_as_a_non_root_user_with_sudo(sudo_user):
    home = Path(f"~{sudo_user}").expanduser()
    work = Path(tempfile.mkdtemp(prefix="spaceinvoices-ci-user-", dir="/tmp"))
    try:
        repo = tracked_tree(work / "repo")
        # The CLI, where the user can read it (hard links: no copy of its 250 MB).
        cli = work / "cli"
        shutil.copytree(Path(require_cli()).parent, cli, copy_function=os.link)
        subprocess.run(["chown", "-R", f"{sudo_user}:", str(repo)], check=True)
        work.chmod(0o755)
        env = {
            **{key: value for key, value in os.environ.items()
               if key.startswith("PIP_") or key in ("LANG", "LC_ALL", "SSL_CERT_FILE", "SSL_CERT_DIR")},
            **RUNNER_MACHINE,
            "HOME": str(home), "USER": sudo_user, "CI": "true",
            "PATH": f"{cli}:/usr/local/go/bin:/usr/local/bin:/usr/bin:/bin",
        }

        def as_user(*command: str, timeout: float = 1200, **extra: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(["runuser", "-u", sudo_user, "--", "env", "-i",
                                   *(f"{k}={v}" for k, v in {**env, **extra}.items()), *command],
                                  cwd=repo, capture_output=True, text=True, timeout=timeout)

        whoami = as_user("sudo", "-n", "id", "-u")
        assert whoami.stdout.strip() == "0", f"passwordless sudo: {whoami.stdout}{whoami.stderr}"

        setup = as_user("bash", ".ci/run", SPACEINVOICES_CI_UNTIL="setup")
        log = setup.stdout + setup.stderr
        assert setup.returncode == 0, log
        assert "setup done" in log and "warning:" not in log, log
        pg_line = next(line for line in log.splitlines() if line.startswith("PostgreSQL: "))
        pg_bin = pg_line.removeprefix("PostgreSQL: ")
        assert Path(pg_bin, "initdb").exists()
        assert (repo / ".venv" / "pyvenv.cfg").stat().st_uid != 0, "the user's own .venv"

        # What .ci/run does for a missing package (everything is installed on this machine): apt-get
        # through sudo, here for a package that is there (apt-get update, then a no-op install).
        apt = as_user("bash", "-c", "set -euo pipefail; source .ci/packages.sh; apt_install sudo; echo installed")
        assert apt.returncode == 0 and apt.stdout.strip() == "installed", apt.stdout + apt.stderr

        # The PostgreSQL backend's tests, as that user (initdb and pg_ctl run as the user itself).
        tests = as_user(".venv/bin/python", "-m", "pytest", "tests/test_backend_postgres.py",
                        f"--basetemp={repo / '.pytest-tmp'}", SPACEINVOICES_TEST_PG_BIN=pg_bin)
        report = tests.stdout + tests.stderr
        assert tests.returncode == 0 and " passed" in report and "skipped" not in report, report
        print(pg_line, report.strip().splitlines()[-1], sep="\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
