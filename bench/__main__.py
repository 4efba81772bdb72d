"""``python -m bench [NAME ...]``: runs every benchmark module (or the named ones) and prints one table.

Modules with ``DEFAULT = False`` (long accuracy runs such as ``real_actions``) run only when named.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


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


def main(argv: list[str] | None = None) -> int:
    names = list(sys.argv[1:] if argv is None else argv)
    available = sorted(module.name for module in pkgutil.iter_modules([os.path.dirname(__file__)]))
    available = [name for name in available if not name.startswith("_")]
    unknown = [name for name in names if name not in available]
    if unknown:
        print(f"error: unknown benchmark(s) {', '.join(unknown)}; available: {', '.join(available)}", file=sys.stderr)
        return 2
    rows: list[dict] = []
    for name in names or available:
        module = importlib.import_module(f"bench.{name}")
        if not names and not getattr(module, "DEFAULT", True):
            continue  # opt-in benchmarks (long accuracy runs) run only when named
        print(f"== bench.{name}", file=sys.stderr, flush=True)
        rows += module.main([]) or []
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
