"""The benchmarks' one table: a row per measurement, its ratio to its baseline and whether it meets its target."""

from __future__ import annotations


class Rows(list):
    """The rows of one benchmark; calling it adds one: ``row(metric, value, unit, ratio, baseline, target, ok)``."""

    def __init__(self, bench: str):
        super().__init__()
        self.bench = bench

    def __call__(self, metric, value, unit, ratio=None, baseline="", target="", ok=None) -> dict:
        self.append(
            {
                "bench": self.bench,
                "metric": metric,
                "value": value,
                "unit": unit,
                "ratio": ratio,
                "baseline": baseline,
                "target": target,
                "ok": ok,
            }
        )
        return self[-1]


def format_table(rows: list[dict]) -> str:
    headers = ["bench", "metric", "value", "unit", "ratio", "baseline", "target", "ok"]
    cells = []
    for row in rows:
        value, ratio = row.get("value"), row.get("ratio")
        ok = row.get("ok")
        cells.append(
            [
                str(row.get("bench", "")),
                str(row.get("metric", "")),
                f"{value:,.1f}" if isinstance(value, (int, float)) else str(value or ""),
                str(row.get("unit", "")),
                f"{ratio:.2f}x" if isinstance(ratio, (int, float)) else "",
                str(row.get("baseline", "")),
                str(row.get("target", "")),
                "" if ok is None else ("yes" if ok else "NO"),
            ]
        )
    widths = [max(len(header), *(len(line[index]) for line in cells)) for index, header in enumerate(headers)]
    lines = ["  ".join(header.ljust(width) for header, width in zip(headers, widths))]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)) for line in cells]
    return "\n".join(lines)
