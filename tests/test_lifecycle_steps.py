"""tests/lifecycle.py itself: steps run in order with their config, each step's calls counted from a clear
log, and a failed check names the step. A recording project and log stand in for the CLI and the sandbox."""

from __future__ import annotations

import subprocess
from types import SimpleNamespace
from typing import Any

import pytest

from tests.lifecycle import Step, assert_destroyed, change_summary, drift_at_stripe, run_steps

pytestmark = pytest.mark.unit


class Log:
    """A sandbox's request log: `serve(...)` records operations, as the API would."""

    def __init__(self) -> None:
        self.records: list[SimpleNamespace] = []

    def serve(self, *operations: str) -> None:
        self.records += [SimpleNamespace(operation=op, account_id="acc") for op in operations]

    def requests(self) -> list[SimpleNamespace]:
        return list(self.records)

    def clear_requests(self) -> None:
        self.records.clear()


class Project:
    """What run_steps uses of a tests/realengine.py Project, recording what it is asked."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self.done: list[Any] = []
        project = self

        class Stack:
            def up(self) -> Any:
                project.done.append("up")
                log.serve("get_account", "create_account")
                return SimpleNamespace(summary=SimpleNamespace(resource_changes={"create": 2, "same": 1}))

            def preview(self) -> Any:
                project.done.append("preview")
                return SimpleNamespace(change_summary={"same": 3})

        self.stack = Stack()

    def set_config(self, values: dict[str, Any], *, secrets: Any = ()) -> None:
        self.done.append(("set", dict(values), set(secrets)))

    def pulumi(self, *args: str) -> None:
        self.done.append(args)


def test_steps_run_in_order_with_their_config_and_each_counts_its_own_calls() -> None:
    log = Log()
    project = Project(log)
    log.serve("left_over")  # served before the lifecycle: not counted in its first step
    checked: list[Any] = []

    def outside() -> None:
        project.done.append("before")
        log.serve("get_account")  # served before the step: not counted in it

    def by_hand() -> str:
        project.done.append("by hand")
        log.serve("page_onboarding")  # a page a browser opens: not an API call
        return "ran"

    results = run_steps(log, project, [
        Step("up", config={"a": 1, "token": "t", "gone": None}, secrets={"token"}, changes={"create": 2},
             calls={"get_account": 1, "create_account": 1}, then=checked.append),
        Step("preview", "preview", changes={}, calls={}),
        Step("by hand", by_hand, before=outside, calls={}),
    ])
    assert project.done == [("set", {"a": 1}, set()), ("set", {"token": "t"}, {"token"}), ("config", "rm", "gone"),
                            "up", "preview", "before", "by hand"]
    assert results["by hand"] == "ran" and checked == [results["up"]]


def test_a_failed_check_names_the_step_and_what_was_expected() -> None:
    log = Log()
    steps = [Step("first up", calls={"get_account": 1, "create_account": 1}),
             Step("second up", changes={}, why="nothing changed")]
    with pytest.raises(AssertionError, match=r"step 2 \(second up\): the engine reported \{'create': 2\}, expected \{\}"):
        run_steps(log, Project(log), steps)
    with pytest.raises(AssertionError, match=r"step 1 \(up\): the API calls were .*expected \{\} \(none at all\)"):
        run_steps(log, Project(log), [Step("up", calls={}, why="none at all")])

    def check(_: Any) -> None:
        assert 1 == 2, "a check of its own"

    with pytest.raises(AssertionError, match=r"step 1 \(up\): a check of its own"):
        run_steps(log, Project(log), [Step("up", then=check)])


def test_the_change_summary_of_a_cli_run_is_read_from_its_resources_block() -> None:
    printed = "Updating (dev)\n\nResources:\n    + 2 created\n    ~ 1 updated\n    3 unchanged\n\nDuration: 1s\n"
    assert change_summary(subprocess.CompletedProcess([], 0, stdout=printed)) == {"created": 2, "updated": 1}


def test_the_shared_drift_and_destroy_check_act_on_the_sandbox(sandbox, account, org_id, connect_enabled):
    """drift_at_stripe and assert_destroyed, which both lifecycle tests use, against the in-process sandbox."""
    store = sandbox.store
    record = store.create_org_account(org_id, store.connect_config(account.id)["id"])
    drift_at_stripe(store, account.id, org_id)
    assert store.org_account(org_id)["charges_enabled"] is True and store.connect_config(account.id)["active"] is False
    with pytest.raises(AssertionError, match="account is deactivated"):
        assert_destroyed(store, account.id, org_id)  # the organization's account is still active
    store.update_org_account(record["id"], active=False)
    assert_destroyed(store, account.id, org_id)
    with pytest.raises(AssertionError, match="holds one account"):
        assert_destroyed(store, account.id, sandbox.create_organization(account.id, name="No account"))
