"""Rows of figures with their targets, printed as one table and written as JSON."""

from __future__ import annotations

import json
import operator
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SECTION_ORDER = ("calls", "state", "imports", "overhead", "scale", "program", "cli", "adapters", "yaml", "fleet", "policy", "onboarding")

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, "<": operator.lt, "==": operator.eq, ">=": operator.ge,
}
_SHOWN = {"<=": "≤", "<": "<", "==": "=", ">=": "≥"}


@dataclass
class Row:
    """One figure. `key` is stable (tests and JSON readers use it); `deterministic` marks call
    counts and sizes that do not depend on the machine, so the quick test may assert them."""

    key: str
    section: str
    label: str
    value: float | int | None
    unit: str = ""
    limit: float | None = None
    op: str = "<="
    detail: str = ""
    deterministic: bool = False

    @property
    def ok(self) -> bool | None:
        """Whether the value meets its target; None when there is no target (or no value)."""
        if self.limit is None or self.value is None:
            return None
        return _COMPARE[self.op](self.value, self.limit)

    @property
    def target(self) -> str:
        return "" if self.limit is None else f"{_SHOWN[self.op]} {_number(self.limit)}{self.unit_suffix}"

    @property
    def unit_suffix(self) -> str:
        return "" if not self.unit or self.unit in ("calls", "x") else f" {self.unit}"

    def shown_value(self) -> str:
        if self.value is None:
            return "n/a"
        unit = "x" if self.unit == "x" else self.unit_suffix
        return f"{_number(self.value)}{unit}"


@dataclass
class Report:
    mode: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.time)

    def add(self, *rows: Row) -> None:
        self.rows.extend(rows)

    def row(self, key: str) -> Row:
        for row in self.rows:
            if row.key == key:
                return row
        raise KeyError(key)

    @property
    def misses(self) -> list[Row]:
        return [row for row in self.rows if row.ok is False]

    def table(self) -> str:
        headers = ("section", "figure", "value", "target", "ok", "detail")
        order = {section: i for i, section in enumerate(SECTION_ORDER)}
        rows = sorted(self.rows, key=lambda row: order.get(row.section, len(order)))
        lines = [
            (row.section, row.label, row.shown_value(), row.target,
             {True: "ok", False: "MISS", None: ""}[row.ok], row.detail)
            for row in rows
        ]
        widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(headers)]
        widths[-1] = 0  # the detail column is not padded

        def fmt(cells: tuple[str, ...]) -> str:
            return "  ".join(c.ljust(w) if i in (0, 1, 4, 5) else c.rjust(w)
                             for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

        out = [fmt(headers), fmt(tuple("-" * w for w in widths[:-1]) + ("-" * 6,))]
        section = None
        for line in lines:
            if section is not None and line[0] != section:
                out.append("")
            section = line[0]
            out.append(fmt(line))
        return "\n".join(out)

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
            "duration_s": round(time.time() - self.started, 1),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "rows": [{**asdict(row), "target": row.target, "ok": row.ok} for row in self.rows],
            "misses": [row.key for row in self.misses],
            "notes": self.notes,
            "details": self.extra,
        }

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, default=str) + "\n", encoding="utf-8")
        return path


def _number(value: float | int) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or float(value).is_integer() and abs(value) >= 10:
        return f"{int(value)}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"
