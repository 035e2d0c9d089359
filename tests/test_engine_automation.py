"""The Automation API as platform teams use it: a deploy script run with the virtualenv's python,
the virtualenv not activated, so the `python3` on PATH is another interpreter without Pulumi.

The engine starts the dynamic-provider plugin (and a folder program's language host) with
`$PULUMI_PYTHON_CMD` or the `python3` on PATH; importing pulumi_spaceinvoices names this
interpreter, so both an inline program and a folder program work as run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.realengine import PROGRAMS, require_cli

pytestmark = pytest.mark.engine

DEPLOY = '''
import json, os, sys
import pulumi
from pulumi import automation as auto
from pulumi_spaceinvoices import OrganizationConnectAccount, StripeConnectConfig

def program():
    connect = StripeConnectConfig(
        "connect", private_key=pulumi.Config().require_secret("stripeSecretKey"),
        public_key="pk_test_InlineProgram000000", application_fee=1.0,
        refresh_url="https://example.com/refresh", return_url="https://example.com/return")
    account = OrganizationConnectAccount("acme", organization_id=os.environ["ORG_ID"],
                                         opts=pulumi.ResourceOptions(depends_on=[connect]))
    pulumi.export("charges_enabled", account.charges_enabled)

if sys.argv[1] == "inline":
    stack = auto.create_or_select_stack(stack_name="dev", project_name="inline-deploy", program=program)
else:
    stack = auto.create_or_select_stack(stack_name="dev", work_dir=sys.argv[2])
stack.set_config("spaceinvoices:apiUrl", auto.ConfigValue(os.environ["API_URL"]))
stack.set_config("spaceinvoices:accessToken", auto.ConfigValue(os.environ["API_TOKEN"], secret=True))
stack.set_config("stripeSecretKey", auto.ConfigValue("sk_test_InlineProgram000000", secret=True))
up = stack.up()
preview = stack.preview()
destroy = stack.destroy()
print(json.dumps({"up": up.summary.resource_changes, "preview": preview.change_summary,
                  "destroy": destroy.summary.resource_changes}))
'''


def run_deploy(workspace, sandbox, account, org_id, *args: str) -> subprocess.CompletedProcess[str]:
    script = workspace.root / "deploy.py"
    script.write_text(DEPLOY)
    # PATH as in a fresh shell: the CLI and the system's tools, not this virtualenv.
    path = os.pathsep.join([str(Path(require_cli()).parent), "/usr/local/bin", "/usr/bin", "/bin"])
    env = {**workspace.env, "PATH": path, "API_URL": sandbox.url, "API_TOKEN": account.token, "ORG_ID": org_id}
    return subprocess.run([sys.executable, str(script), *args], cwd=workspace.root, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)


def other_python_on_path_lacks_pulumi() -> bool:
    python3 = subprocess.run(["/usr/bin/env", "PATH=/usr/local/bin:/usr/bin:/bin", "python3", "-c", "import pulumi"],
                             capture_output=True)
    return python3.returncode != 0


@pytest.mark.parametrize("kind", ["inline", "folder"])
def test_a_deploy_script_run_with_the_virtualenvs_python_works_without_activating_it(
        kind, workspace, sandbox, account, org_id):
    assert other_python_on_path_lacks_pulumi(), "the test needs a python3 on PATH that has no Pulumi SDK"
    folder = workspace.root / "program"
    if kind == "folder":
        folder.mkdir()
        (folder / "Pulumi.yaml").write_text((PROGRAMS / "lifecycle" / "Pulumi.yaml").read_text())
        (folder / "__main__.py").write_text((PROGRAMS / "lifecycle" / "__main__.py").read_text())
    result = run_deploy(workspace, sandbox, account, org_id, kind, str(folder))
    assert result.returncode == 0, result.stdout
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    created = 3 if kind == "inline" else 2  # the folder program declares no account without organizationId
    assert summary["up"].get("create") == created
    assert summary["preview"].get("same") == created
    assert summary["destroy"].get("delete") == created
    assert sandbox.store.connect_config(account.id)["active"] is False
