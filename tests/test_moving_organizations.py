"""Moving an organization's account between two hand-written stacks, under the real CLI (docs/fleets.md,
"Moving an organization between stacks").

Declared in a second stack, an account is adopted there (create reads first); if the first stack
then drops it, its `up` deactivates an account the second still declares. The safe way is to move
the resource's state first (`pulumi state move`), then change both programs: nothing is created,
nothing deactivated, and each stack's `preview --expect-no-changes` passes with no call.
"""

from __future__ import annotations

import pytest

from tests.lifecycle import Step, run_steps
from tests.realengine import PROGRAMS

pytestmark = pytest.mark.engine

ACCOUNT = ":OrganizationConnectAccount"


@pytest.fixture
def stacks(workspace, sandbox, account, connect_enabled):
    """Stacks of one project (tests/programs/accounts) with `account`'s token; Connect is enabled (the
    connect stack's job, not these)."""

    def make(name: str, organizations: list[str]):
        return workspace.project(PROGRAMS / "accounts", stack=name, config={
            "spaceinvoices:apiUrl": sandbox.url, "spaceinvoices:accessToken": account.token,
            "organizations": organizations}, secrets={"spaceinvoices:accessToken"})

    return make


def test_declared_in_a_second_stack_then_dropped_from_the_first_it_is_deactivated(stacks, sandbox, account):
    moving = sandbox.create_organization(account.id)
    first = stacks("first", [moving])
    second = stacks("second", [moving])

    def hazard(_):
        assert sandbox.store.org_account(moving)["active"] is False, "the hazard: the second stack still declares it"

    run_steps(sandbox, first, [
        Step("first stack up", changes={"create": 2}),
        Step("second stack up", project=second, calls={"get_account": 1}, why="the second stack adopts the account"),
        Step("first stack drops it", config={"organizations": []}, calls={"update_account": 1}, then=hazard),
    ])


def test_moved_through_the_state_nothing_is_created_or_deactivated(stacks, sandbox, account):
    moving, staying = sandbox.create_organization(account.id), sandbox.create_organization(account.id)
    first = stacks("first", [moving, staying])
    second = stacks("second", [])

    def move():
        urn = next(r["urn"] for r in first.resources(ACCOUNT) if r["id"] == moving)
        first.pulumi("state", "move", "--source", "first", "--dest", "second", "--yes", urn)
        first.set_config({"organizations": [staying]})
        second.set_config({"organizations": [moving]})
        first.preview("--expect-no-changes")
        second.preview("--expect-no-changes")
        first.up()
        second.up()

    def moved(_):
        assert [r["id"] for r in first.resources(ACCOUNT)] == [staying]
        assert [r["id"] for r in second.resources(ACCOUNT)] == [moving]

    def destroyed(_):
        assert sandbox.store.org_account(staying)["active"] is False
        assert sandbox.store.org_account(moving)["active"] is True, "the moved account belongs to the second stack now"

    run_steps(sandbox, first, [
        Step("first stack up", changes={"create": 3}),
        Step("second stack up, empty", project=second),
        Step("the state move, both previews and both ups", move, calls={},
             why="the move, both previews and both ups call nothing", then=moved),
        Step("first stack destroyed", "destroy", then=destroyed),
    ])
