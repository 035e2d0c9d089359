"""The engine harness itself: lifecycle semantics proved with toy dynamic providers."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.dynamic.dynamic import serialize_provider

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `tests.harness` must import under the same name in the provider process
    sys.path.insert(0, str(ROOT))

from tests.harness import (  # noqa: E402
    UNKNOWN,
    Engine,
    EngineError,
    ProviderError,
    ProviderServer,
    Secret,
)
from tests.harness.toy_provider import Echo, Item, ItemProvider, JsonStore, read_call_log  # noqa: E402

pytestmark = pytest.mark.stepwise

ITEM = "pulumi-python:dynamic/toy:Item"


class Toy:
    """Paths of one test's toy cloud and the engine factory."""

    def __init__(self, tmp: Path) -> None:
        self.store_path = tmp / "store.json"
        self.log_path = tmp / "calls.jsonl"
        self.store = JsonStore(self.store_path)

    def engine(self, program: Callable[[], Any], **kwargs: Any) -> Engine:
        config = {"toy:storePath": str(self.store_path), **kwargs.pop("config", {})}
        return Engine(
            program,
            project="toyproj",
            stack="dev",
            config=config,
            env={"TOY_CALL_LOG": str(self.log_path)},
            **kwargs,
        )

    def calls(self) -> list[dict[str, Any]]:
        return read_call_log(self.log_path)


@pytest.fixture
def toy(tmp_path: Path) -> Toy:
    return Toy(tmp_path)


def items_program(spec: dict[str, dict[str, Any]]) -> Callable[[], None]:
    """A program creating one Item per entry of `spec` (read at each run)."""

    def program() -> None:
        for name, args in spec.items():
            args = dict(args)
            opts = args.pop("opts", None)
            Item(name, opts=opts, **args)

    return program


# ------------------------------------------------------------------------------ ProviderServer


def test_provider_server_carries_secrets_unknowns_and_floats(toy: Toy) -> None:
    prov = serialize_provider(ItemProvider())
    urn = f"urn:pulumi:dev::toyproj::{ITEM}::a"
    with ProviderServer(env={"TOY_CALL_LOG": str(toy.log_path)}) as srv:
        srv.configure({"toy:storePath": str(toy.store_path)})
        assert srv.accept_secrets is False

        checked, failures = srv.check(urn, {}, {"__provider": prov, "key": "a", "value": UNKNOWN})
        assert failures == [] and checked["value"] is UNKNOWN

        id_, outs = srv.create(urn, {"__provider": prov, "key": "a", "value": 5, "secret": Secret("pssst")})
        assert id_ == "a"
        assert outs["value"] == 5.0 and isinstance(outs["value"], float)
        assert outs["secret"] == Secret("pssst")
        # The provider saw the plain value: the engine strips secrets for acceptSecrets=false.
        assert toy.store.get("a")["secret"] == "pssst"

        assert srv.create(urn, {"__provider": prov, "key": "p"}, preview=True) == ("", {"__provider": prov, "key": "p"})
        assert [c.method for c in srv.calls] == ["Configure", "Check", "Create"]


def test_provider_server_raises_provider_error_with_message(toy: Toy) -> None:
    prov = serialize_provider(ItemProvider())
    with ProviderServer() as srv:
        srv.configure({"toy:storePath": str(toy.store_path)})
        with pytest.raises(ProviderError) as err:
            srv.create(f"urn:pulumi:dev::toyproj::{ITEM}::x", {"__provider": prov, "key": "x", "fail_on": "create"})
    assert err.value.method == "Create"
    assert err.value.summary == "RuntimeError: toy create failed for key 'x'"
    assert "Traceback" in err.value.details


def test_provider_server_serves_8_threads_concurrently_and_closes_cleanly(toy: Toy) -> None:
    prov = serialize_provider(ItemProvider())
    threads_before = threading.active_count()
    srv = ProviderServer()
    srv.configure({"toy:storePath": str(toy.store_path)})

    def create(i: int) -> str:
        urn = f"urn:pulumi:dev::toyproj::{ITEM}::k{i}"
        return srv.create(urn, {"__provider": prov, "key": f"k{i}", "delay": 0.1})[0]

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(create, range(32)))
    elapsed = time.monotonic() - started
    assert sorted(ids) == sorted(f"k{i}" for i in range(32))
    assert len(toy.store.load()) == 32
    assert elapsed < 2.4, f"32 x 0.1 s creates took {elapsed:.2f}s: not concurrent"
    assert srv.peak_rss_mb() > 10
    srv.close()
    assert srv.returncode is not None
    assert srv.peak_rss_mb() > 10
    assert threading.active_count() <= threads_before


# ------------------------------------------------------------------------------ Engine: up


def test_up_creates_then_up_again_changes_nothing(toy: Toy) -> None:
    eng = toy.engine(items_program({"a": {"key": "a", "value": 1}, "b": {"key": "b", "value": 2}}))
    first = eng.up()
    assert sorted(first.creates) == ["a", "b"]
    assert {e.id for e in eng.state.values()} == {"a", "b"}

    second = eng.up()
    assert sorted(second.sames) == ["a", "b"]
    assert second.mutating_calls == []
    assert {c.method for c in second.calls} == {"Configure", "Check", "Diff"}


def test_changing_an_input_updates_in_place(toy: Toy) -> None:
    spec = {"a": {"key": "a", "value": 1}}
    eng = toy.engine(items_program(spec))
    eng.up()
    spec["a"]["value"] = 2
    result = eng.up()
    assert result.updates == ["a"]
    assert [c.method for c in result.mutating_calls] == ["Update"]
    assert eng.by_name("a").outputs["revision"] == 2.0
    assert toy.store.get("a")["value"] == 2


def test_replace_creates_the_new_object_before_deleting_the_old(toy: Toy) -> None:
    spec = {"a": {"key": "old", "value": 1}}
    eng = toy.engine(items_program(spec))
    eng.up()
    spec["a"]["key"] = "new"
    result = eng.up()
    assert result.replaces == ["a"]
    assert [c.method for c in result.mutating_calls] == ["Create", "Delete"]
    assert set(toy.store.load()) == {"new"}
    assert eng.by_name("a").id == "new"


def test_delete_before_replace_deletes_first(toy: Toy) -> None:
    spec = {"a": {"key": "old", "opts": pulumi.ResourceOptions(delete_before_replace=True)}}
    eng = toy.engine(items_program(spec))
    eng.up()
    spec["a"]["key"] = "new"
    result = eng.up()
    assert [c.method for c in result.mutating_calls] == ["Delete", "Create"]
    assert set(toy.store.load()) == {"new"}


def test_removing_a_resource_from_the_program_deletes_it(toy: Toy) -> None:
    spec = {"a": {"key": "a"}, "b": {"key": "b"}}
    eng = toy.engine(items_program(spec))
    eng.up()
    del spec["b"]
    result = eng.up()
    assert result.deletes == ["b"] and result.sames == ["a"]
    assert set(toy.store.load()) == {"a"}
    assert [e.name for e in eng.state.values()] == ["a"]


def test_engine_computes_the_diff_when_the_provider_cannot(toy: Toy) -> None:
    spec = {"x": 1}
    eng = toy.engine(lambda: Echo("e", dict(spec)))
    eng.up()
    assert eng.up().sames == ["e"]
    spec["x"] = 2
    assert eng.up().updates == ["e"]


# ------------------------------------------------------------------------------ preview


def test_preview_only_checks_and_diffs_and_sees_dry_run(toy: Toy) -> None:
    spec = {"a": {"key": "a", "value": 1}}
    dry_runs: list[bool] = []

    def program() -> None:
        dry_runs.append(pulumi.runtime.is_dry_run())
        a = Item("a", **spec["a"])
        if "b" in spec:
            b = Item("b", key="b", value=a.revision)
            pulumi.export("b_value", b.value)
        pulumi.export("a_revision", a.revision)

    eng = toy.engine(program)
    eng.up()
    before = dict(eng.state)
    spec["a"]["value"] = 2
    spec["b"] = {}
    result = eng.preview()

    assert dry_runs == [False, True]
    assert {c.method for c in result.calls} == {"Configure", "Check", "Diff"}
    assert result.updates == ["a"] and result.creates == ["b"]
    assert result.outputs["b_value"] is UNKNOWN  # a's revision is computed by Update
    assert set(toy.store.load()) == {"a"} and toy.store.get("a")["value"] == 1
    assert eng.state == before
    assert eng.by_name("a").plain_inputs["value"] == 1


# ------------------------------------------------------------------------------ refresh, destroy


def test_refresh_picks_up_out_of_band_changes_and_drops_vanished_objects(toy: Toy) -> None:
    eng = toy.engine(items_program({"a": {"key": "a", "value": 1}, "b": {"key": "b", "value": 1}}))
    eng.up()
    record = toy.store.get("a")
    toy.store.put("a", {**record, "value": 99})
    toy.store.pop("b")

    result = eng.refresh()
    assert result.updates == ["a"] and result.deletes == ["b"]
    assert sorted(c.method for c in result.calls) == ["Configure", "Read", "Read"]
    assert eng.by_name("a").outputs["value"] == 99
    assert eng.by_name("a").inputs["value"] == 99  # read returned inputs
    assert [e.name for e in eng.state.values()] == ["a"]


def test_destroy_deletes_everything_dependents_first(toy: Toy) -> None:
    def program() -> None:
        a = Item("a", key="a")
        Echo("e", {"rev": a.revision})

    eng = toy.engine(program)
    eng.up()
    result = eng.destroy()
    assert result.deletes == ["e", "a"]
    assert [c.urn.split("::")[-1] for c in result.mutating_calls] == ["e", "a"]
    assert eng.state == {} and toy.store.load() == {}


def test_retain_on_delete_skips_the_provider_and_protect_blocks_deletion(toy: Toy) -> None:
    spec = {
        "kept": {"key": "kept", "opts": pulumi.ResourceOptions(retain_on_delete=True)},
        "guarded": {"key": "guarded", "opts": pulumi.ResourceOptions(protect=True)},
    }
    eng = toy.engine(items_program(spec))
    eng.up()
    del spec["kept"]
    assert eng.up().mutating_calls == []
    assert set(toy.store.load()) == {"kept", "guarded"}

    with pytest.raises(EngineError, match="guarded.*protected"):
        eng.destroy()
    assert [e.name for e in eng.state.values()] == ["guarded"]


# ------------------------------------------------------------------------------ secrets, config


def test_secrets_never_appear_in_plain_text_in_the_checkpoint(toy: Toy) -> None:
    def program() -> None:
        cfg = pulumi.Config("toy")
        item = Item("a", key="a", value="public-value", secret=pulumi.Output.secret("SECRET-INPUT-7f3a"))
        pulumi.export("token", item.token)
        pulumi.export("config_token", cfg.require_secret("token"))
        pulumi.export("value", item.value)

    eng = toy.engine(program, config={"toy:token": "SECRET-CONFIG-9c1e"}, secret_config={"toy:token"})
    result = eng.up()

    entry = eng.by_name("a")
    assert {"secret", "token"} <= entry.secret_outputs  # input secret + additional_secret_outputs
    assert "value" not in entry.secret_outputs
    assert result.secret_outputs == {"token", "config_token"}
    assert result.outputs["token"] == "derived-a-token"

    text = eng.state_json()
    for plain in ("SECRET-INPUT-7f3a", "SECRET-CONFIG-9c1e", "derived-a-token"):
        assert plain not in text
    assert '"1b47061264138c4ac30d75fd1eb44270"' in text and "public-value" in text

    restored = toy.engine(program, config={"toy:token": "SECRET-CONFIG-9c1e"}, secret_config={"toy:token"})
    restored.load_state_json(text)
    assert restored.by_name("a").outputs["secret"] == Secret("SECRET-INPUT-7f3a")
    again = restored.up()
    assert again.sames == ["a"] and again.mutating_calls == []


def test_config_changes_between_runs_reach_the_providers_configure(toy: Toy) -> None:
    eng = toy.engine(
        items_program({"a": {"key": "a"}}), config={"toy:label": "one", "toy:token": "t1"}, secret_config={"toy:token"}
    )
    eng.up()
    eng.config["toy:label"] = "two"
    eng.config["toy:token"] = "t2"
    eng.up()

    configures = [c for c in toy.calls() if c["method"] == "configure"]
    assert [c["label"] for c in configures] == ["one", "two"]
    assert configures[0]["token_fp"] != configures[1]["token_fp"]  # the secret arrived unwrapped
    assert configures[0]["pid"] != configures[1]["pid"]  # a fresh provider process per run
    assert eng.by_name("a").outputs["created_with"] == "one"  # rotating config changed no state


# ------------------------------------------------------------------------------ errors


def test_a_provider_exception_fails_the_run_naming_the_resource(toy: Toy) -> None:
    spec = {"good": {"key": "good"}, "bad": {"key": "bad", "fail_on": "create"}}
    eng = toy.engine(items_program(spec))
    with pytest.raises(EngineError) as err:
        eng.up()
    result = err.value.result
    assert any("'bad'" in e and "toy create failed" in e for e in result.errors)
    assert "bad" not in [e.name for e in eng.state.values()]

    spec["bad"]["key"] = ""
    result = eng.up(raise_on_error=False)
    assert not result.ok
    assert [(f.name, f.property) for f in result.failures] == [("bad", "key")]
