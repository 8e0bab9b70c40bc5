"""Print benchmark results as a table and write them as JSON."""

from __future__ import annotations

import json
import platform
import resource
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from cme.settings import PROJECT_ROOT


@dataclass(frozen=True)
class Figure:
    """One measured figure and the reference it should be read against."""

    name: str
    value: float
    unit: str
    reference_name: str = ""
    reference_value: float | None = None

    @property
    def ratio(self) -> float | None:
        if not self.reference_value:
            return None
        return self.value / self.reference_value


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.started


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def publish(benchmark: str, parameters: dict[str, object], figures: list[Figure]) -> Path:
    table = Table(title=f"cme bench {benchmark}  {parameters}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("reference (same run)")
    table.add_column("reference value", justify="right")
    table.add_column("ratio", justify="right")
    for figure in figures:
        table.add_row(
            figure.name,
            f"{figure.value:,.1f} {figure.unit}",
            figure.reference_name,
            ""
            if figure.reference_value is None
            else f"{figure.reference_value:,.1f} {figure.unit}",
            "" if figure.ratio is None else f"{figure.ratio:.3f}",
        )
    Console(width=160).print(table)
    folder = PROJECT_ROOT / "bench-results"
    folder.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{benchmark}-{stamp}.json"
    path.write_text(
        json.dumps(
            {
                "benchmark": benchmark,
                "at": stamp,
                "machine": {"python": platform.python_version(), "cpus": _cpus()},
                "parameters": parameters,
                "peak_rss_mib": round(peak_rss_mib(), 1),
                "figures": [asdict(f) | {"ratio": f.ratio} for f in figures],
            },
            indent=2,
        )
    )
    print(f"results written to {path.relative_to(PROJECT_ROOT)}")
    return path


def _cpus() -> int:
    import os  # noqa: PLC0415

    return os.cpu_count() or 0
