"""Lifecycles as tables of steps, as Terraform's TestStep and pulumi-go-provider's LifeCycleTest write them.

A step sets the program's config, runs one engine operation (`up`, `preview`, `refresh`, `destroy`
through the Automation API on a `Project`'s stack, or any callable), then checks the change summary
the engine reports and the API calls the sandbox served during the step (counted by
`tests.support.api_calls`, cleared before each step), then any further checks of its own. A failed
check names the step:

    run_steps(sandbox, project, [
        Step("first up", changes={"create": 3}, calls={"get_connect": 1, ...}),
        Step("a no-op up", changes={}, calls={}),
        Step("deactivate", config={"accountActive": False}, changes={"update": 1}, calls={...},
             then=lambda result: ...),
        Step("destroy", "destroy", changes={"delete": 3}, calls={...}),
    ])

`drift_at_stripe` and `assert_destroyed` are what the lifecycle program's two tests (the dynamic
providers', tests/test_engine_lifecycle.py, and the plugin's, tests/test_native_lifecycle.py) share: the
drift made between their steps, and the sandbox after their destroy.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.support import api_calls

ACTIONS = ("up", "preview", "refresh", "destroy")


@dataclass(frozen=True)
class Step:
    """One step of a lifecycle.

    - `name`: what the step is; failures name it.
    - `action`: "up", "preview", "refresh" or "destroy" on the project's stack (Automation API), or a
      callable that runs the step and returns its result (a CLI run, several commands).
    - `config`: set on the project before the step (a value of None removes the key); or a callable,
      called before the step, that returns it. `secrets`: the keys set as secrets.
    - `before`: called before the step, after the config: what happens outside the program (a hand edit
      in the sandbox, onboarding finished at Stripe).
    - `changes`: the change summary the engine reports ("same" left out); None: not checked.
    - `calls`: the API calls the step made, by operation (`api_calls`); None: not checked. `why`: what
      they show, in the failure message.
    - `then`: further checks, given the step's result.
    - `project`: the project the step runs on, when not the lifecycle's own (several stacks).
    """

    name: str
    action: str | Callable[[], Any] = "up"
    config: Mapping[str, Any] | Callable[[], Mapping[str, Any]] = field(default_factory=dict)
    secrets: Iterable[str] = ()
    before: Callable[[], object] | None = None
    changes: Mapping[str, int] | None = None
    calls: Mapping[str, int] | None = None
    why: str = ""
    then: Callable[[Any], object] | None = None
    project: Any = None


def change_summary(result: Any) -> dict[str, int]:
    """The changes an operation reports, {kind: count}, unchanged resources ("same") left out: of an
    Automation API result (a preview's `change_summary`, the others' `summary.resource_changes`), or of
    a CLI run (the "Resources:" block it prints)."""
    if isinstance(result, subprocess.CompletedProcess):
        return cli_summary(result.stdout)
    counts = result.change_summary if hasattr(result, "change_summary") else result.summary.resource_changes
    return {kind: n for kind, n in (counts or {}).items() if kind != "same"}


def cli_summary(output: str) -> dict[str, int]:
    """The "Resources:" block `pulumi up`/`preview`/`refresh` prints, as {change: count}; unchanged left out."""
    block = output.split("\nResources:", 1)[1].split("\n\n", 1)[0]
    found = {}
    for line in block.splitlines():
        match = re.match(r"\s+(?:[+~\-]|\+-)?\s*(\d+) (?:to )?(\w+)", line)
        if match and match.group(2) not in ("unchanged", "changes"):
            found[match.group(2)] = int(match.group(1))
    return found


def run_steps(sandbox: Any, project: Any, steps: Iterable[Step]) -> dict[str, Any]:
    """Run `steps` in order on `project` (a tests/realengine.py Project) against `sandbox`; returns each
    step's result by name. (A later step's check that needs an earlier result: the earlier step's
    `then` keeps it.)"""
    done: dict[str, Any] = {}
    for number, step in enumerate(steps, 1):
        label = f"step {number} ({step.name})"
        project_of_step = step.project or project
        config = step.config() if callable(step.config) else step.config
        secrets = set(step.secrets)
        for key, value in config.items():
            if value is None:
                project_of_step.pulumi("config", "rm", key)
            else:
                project_of_step.set_config({key: value}, secrets={key} & secrets)
        if step.before is not None:
            step.before()
        sandbox.clear_requests()
        if callable(step.action):
            result = step.action()
        else:
            assert step.action in ACTIONS, f"{label}: unknown action {step.action!r}"
            result = getattr(project_of_step.stack, step.action)()
        counted = dict(api_calls(sandbox))
        done[step.name] = result
        if step.changes is not None:
            reported = change_summary(result)
            assert reported == dict(step.changes), f"{label}: the engine reported {reported}, expected {dict(step.changes)}"
        if step.calls is not None:
            assert counted == dict(step.calls), (
                f"{label}: the API calls were {counted}, expected {dict(step.calls)}" + (f" ({step.why})" if step.why else ""))
        if step.then is not None:
            try:
                step.then(result)
            except AssertionError as failed:
                raise AssertionError(f"{label}: {failed}") from failed
    return done


def drift_at_stripe(store: Any, account_id: str, org_id: str) -> None:
    """Drift made outside the program, in the sandbox's store: the organization finished onboarding at
    Stripe, and someone switched Connect off by hand."""
    store.set_charges_enabled(org_id, True)
    store.update_connect(account_id, active=False)


def assert_destroyed(store: Any, account_id: str, *org_ids: str) -> None:
    """The sandbox after a destroy: Connect and each organization's account deactivated, and each
    organization holding exactly one account (none deleted, none made twice)."""
    assert store.connect_config(account_id)["active"] is False
    for org_id in org_ids:
        assert store.count_org_accounts(org_id) == 1, f"{org_id} holds one account"
        assert store.org_account(org_id)["active"] is False, f"{org_id}'s account is deactivated"
