"""The Python SDK's final wait, in a program that declares many accounts in top-level code.

That wait (`wait_for_rpcs`) finds no registration sent yet and polls every pending output with
`asyncio.wait`, again each time one resolves: CPU quadratic in the number of resources. The
resources' constructors hand the wait one task to await first (`core.let_registrations_start`),
so it pumps the loop, every registration starts, and it awaits them one by one: by the time it polls
outputs, they are done. Counted, not timed: the program (tests/programs/final-wait) counts the polls
under the real CLI: a preview of 300 accounts must poll fewer than ten times.
"""

from __future__ import annotations

import pytest

from pulumi_spaceinvoices import core
from tests.realengine import PROGRAMS

pytestmark = pytest.mark.engine

ACCOUNTS = 300


def test_the_final_wait_awaits_registrations_instead_of_polling_every_output(workspace, tmp_path):
    count_file = tmp_path / "polls"
    project = workspace.project(PROGRAMS / "final-wait", config={"count": ACCOUNTS, "countFile": str(count_file)})
    preview = project.preview()
    assert f"+ {ACCOUNTS + 1} to create" in preview.stdout
    assert int(count_file.read_text()) < ACCOUNTS / 30


def test_outside_a_running_program_the_hook_does_nothing():
    from pulumi.runtime.settings import _get_rpc_manager

    before = list(_get_rpc_manager().rpcs)
    core.let_registrations_start()  # no running event loop here: nothing to hand the wait
    assert _get_rpc_manager().rpcs == before

