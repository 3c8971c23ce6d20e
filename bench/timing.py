"""What every benchmark shares: timing side by side, percentiles, paired ratios, result rows, the machine, the table.

Engines answering the same question are timed on the same input back to back (in a rotating order, so none always
runs first on a warm cache), and a ratio between two engines is the median of the per-input ratios: on a noisy
machine that is far steadier than dividing two medians.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

Input = TypeVar("Input")

LIBRARIES = ("pyoxigraph", "rdflib", "pyshacl", "fastapi", "strawberry-graphql", "uvicorn", "httpx")


@dataclass
class Row:
    """One line of the results table: one question, one engine, one catalog size."""

    question: str
    engine: str
    n: int
    p50_ms: float | None = None
    p99_ms: float | None = None
    samples: int = 0
    ratio: float | None = None  # median of per-input ratios to `ratio_to`
    ratio_to: str | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        row = asdict(self)
        row.update(row.pop("extra"))
        return row


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between closest ranks."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def time_ms(call: Callable[[], object]) -> float:
    start = time.perf_counter_ns()
    call()
    return (time.perf_counter_ns() - start) / 1e6


@dataclass
class Timings:
    """Milliseconds per engine, keyed by sample (repetition, input index) so engines can be paired."""

    samples: dict[str, dict[tuple[int, int], float]] = field(default_factory=dict)
    capped: dict[str, str] = field(default_factory=dict)  # engine -> why it has fewer samples
    answers: dict[str, int] = field(default_factory=dict)  # engine -> answer size on the first input

    def p(self, engine: str, q: float) -> float | None:
        values = list(self.samples.get(engine, {}).values())
        return percentile(values, q) if values else None

    def paired_ratio(self, engine: str, reference: str) -> float | None:
        mine, theirs = self.samples.get(engine, {}), self.samples.get(reference, {})
        ratios = [mine[key] / theirs[key] for key in mine.keys() & theirs.keys() if theirs[key] > 0]
        return statistics.median(ratios) if ratios else None


def side_by_side(
    engines: dict[str, Callable[[Input], object]],
    inputs: Sequence[Input],
    repeat: int,
    budget_s: dict[str, float] | None = None,
    answer_size: dict[str, Callable[[Any], int]] | None = None,
) -> Timings:
    """Time every engine on every input, `repeat` passes; an engine over its time budget stops early (capped).

    Each engine first answers the first input once, untimed (imports, caches, query plans warm up outside the
    numbers); that answer's size is kept so the caller can check the engines agree. An engine whose warm-up alone
    exceeds its budget keeps that one run as its only sample.
    """
    timings = Timings({name: {} for name in engines})
    budgets = budget_s or {}
    spent = dict.fromkeys(engines, 0.0)
    names = list(engines)
    total = repeat * len(inputs)
    for name in names:
        answer: object = None

        def warm(name: str = name) -> None:
            nonlocal answer
            answer = engines[name](inputs[0])

        ms = time_ms(warm)
        timings.answers[name] = (answer_size or {}).get(name, len)(answer)  # type: ignore[arg-type]
        if name in budgets and ms / 1000 > budgets[name]:
            timings.samples[name][(0, 0)] = ms
            spent[name] = ms / 1000
    for r in range(repeat):
        for i, item in enumerate(inputs):
            shift = (r * len(inputs) + i) % len(names)
            for name in names[shift:] + names[:shift]:
                limit = budgets.get(name)
                if limit is not None and spent[name] > limit:
                    timings.capped[name] = (
                        f"capped at {len(timings.samples[name])} of {total} runs ({limit:.0f} s budget)"
                    )
                    continue
                ms = time_ms(lambda name=name, item=item: engines[name](item))  # type: ignore[misc]
                timings.samples[name][(r, i)] = ms
                spent[name] += ms / 1000
    return timings


def rows_from(
    timings: Timings, question: str, n: int, reference: str, notes: dict[str, str] | None = None
) -> list[Row]:
    """One row per engine with p50/p99 and the paired ratio to `reference` (usually the floor)."""
    rows = []
    for engine, samples in timings.samples.items():
        note = "; ".join(x for x in ((notes or {}).get(engine, ""), timings.capped.get(engine, "")) if x)
        rows.append(
            Row(
                question,
                engine,
                n,
                p50_ms=timings.p(engine, 50),
                p99_ms=timings.p(engine, 99),
                samples=len(samples),
                ratio=timings.paired_ratio(engine, reference) if engine != reference else 1.0,
                ratio_to=reference,
                note=note,
                extra={"answer_size": timings.answers.get(engine)},
            )
        )
    return rows


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def machine() -> dict[str, Any]:
    """The machine and software the numbers were measured on."""
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "libraries": versions,
    }


def machine_line(info: dict[str, Any]) -> str:
    libraries = ", ".join(f"{k} {v}" for k, v in info["libraries"].items() if v)
    return f"{info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB; Python {info['python']}; {libraries}"


def rss_mb() -> float | None:
    """The current resident set size of this process (Linux), in MB."""
    return _status_mb("VmRSS")


def peak_rss_mb() -> float | None:
    """The peak resident set size of this process since start or the last `reset_peak_rss()` (Linux), in MB."""
    return _status_mb("VmHWM")


def reset_peak_rss() -> None:
    """Reset the kernel's high-water mark of this process's RSS, so a peak can be taken around one step."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _status_mb(field_name: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def _fmt_ms(ms: float) -> str:
    if ms >= 10_000:
        return f"{ms / 1000:.1f} s"
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    if ms >= 10:
        return f"{ms:.0f} ms"
    return f"{ms:.2f} ms"


def cell(row: dict[str, Any]) -> str:
    """How one row reads in a table cell: p50 (p99), ratio; or the row's own `display`; or its note."""
    if row.get("display"):
        return str(row["display"])
    if row.get("p50_ms") is None:
        return "—"
    text = _fmt_ms(row["p50_ms"])
    if row.get("p99_ms") is not None and row.get("samples", 0) > 1:
        text += f" (p99 {_fmt_ms(row['p99_ms'])})"
    ratio = row.get("ratio")
    if ratio is not None and row.get("ratio_to") and row.get("ratio_to") != row.get("engine"):
        text += f", {ratio:,.0f}×" if ratio >= 10 else f", {ratio:.1f}×"
    return text


def markdown_table(rows: list[dict[str, Any]], sizes: list[int]) -> str:
    """Questions and engines down, catalog sizes across; notes gathered under the table."""
    order: dict[tuple[str, str], dict[int, dict[str, Any]]] = {}
    for row in rows:
        order.setdefault((row["question"], row["engine"]), {})[row["n"]] = row
    header = "| question | engine | " + " | ".join(_size_name(n) for n in sizes) + " |"
    lines = [header, "|" + "---|" * (len(sizes) + 2)]
    notes: list[str] = []
    previous = None
    for (question, engine), by_size in order.items():
        cells = []
        for n in sizes:
            found = by_size.get(n)
            text = cell(found) if found else "—"
            if found and found.get("note"):
                notes.append(f"{question} / {engine} / {_size_name(n)}: {found['note']}")
                text += f" [{len(notes)}]"
            cells.append(text)
        shown = question if question != previous else ""
        previous = question
        lines.append(f"| {shown} | {engine} | " + " | ".join(cells) + " |")
    if notes:
        lines.append("")
        lines.extend(f"[{i}] {note}" for i, note in enumerate(notes, 1))
    return "\n".join(lines)


def _size_name(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)
