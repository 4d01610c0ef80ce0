"""One row per measure: the figure of three runs (min / median / max), the baseline measured
in the same run, their ratio, and the target it is held against."""

from __future__ import annotations

import statistics
import sys
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Better = Literal["higher", "lower"]


@dataclass
class Figure:
    """A measure's runs beside its baseline. `target` is a bound on the median, e.g. 20,000
    (higher is better) or 20 ms p99 (lower is better)."""

    measure: str
    unit: str
    runs: list[float]
    target: float | None = None
    better: Better = "higher"
    baseline: float | None = None
    baseline_label: str = ""
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.runs) if self.runs else float("nan")

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or not self.baseline or not self.runs:
            return None
        return self.median / self.baseline

    @property
    def met(self) -> bool | None:
        if self.target is None or not self.runs:
            return None
        if self.better == "higher":
            return self.median >= self.target
        return self.median <= self.target

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(
            min=min(self.runs, default=None),
            median=self.median if self.runs else None,
            max=max(self.runs, default=None),
            ratio=self.ratio,
            met=self.met,
        )
        return out


def number(value: float | None) -> str:
    if value is None:
        return "-"
    if value != value:  # NaN
        return "nan"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def runs_text(figure: Figure) -> str:
    if not figure.runs:
        return "not measured"
    if len(figure.runs) == 1:
        return number(figure.runs[0])
    return " / ".join(number(v) for v in (min(figure.runs), figure.median, max(figure.runs)))


def target_text(figure: Figure) -> str:
    if figure.target is None:
        return "-"
    sign = ">=" if figure.better == "higher" else "<="
    return f"{sign} {number(figure.target)}"


def table(figures: list[Figure]) -> str:
    """A Markdown table: measure, unit, target, min / median / max, baseline, ratio, met."""
    header = (
        "| measure | unit | target | figure (min / median / max) | baseline (same run) "
        "| ratio | met |"
    )
    lines = [header, "|---|---|---|---|---|---|---|"]
    for f in figures:
        ratio = f.ratio
        baseline = "-" if f.baseline is None else f"{number(f.baseline)} ({f.baseline_label})"
        met = {True: "yes", False: "NO", None: "-"}[f.met]
        lines.append(
            f"| {f.measure} | {f.unit} | {target_text(f)} | {runs_text(f)} | {baseline} "
            f"| {'-' if ratio is None else f'{ratio:.2f}x'} | {met} |"
        )
    notes = [f"- {f.measure}: {f.note}" for f in figures if f.note]
    return "\n".join(lines + (["", *notes] if notes else []))


def say(line: str) -> None:
    """Progress on stderr, so `--json` keeps stdout to the document."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
