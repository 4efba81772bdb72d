"""``python -m bench [NAME ...]``: runs every benchmark module (or the named ones) and prints one table.

A module that raises is reported with its traceback and the others still run; the command then
prints the table of what ran and exits 1, naming the failed modules. Modules with ``DEFAULT = False``
(long accuracy runs such as ``real_actions``) run only when named.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import traceback

from bench.support.table import format_table
from common import quiet


def main(argv: list[str] | None = None) -> int:
    names = list(sys.argv[1:] if argv is None else argv)
    available = sorted(m.name for m in pkgutil.iter_modules([os.path.dirname(__file__)]) if not m.ispkg)
    available = [name for name in available if not name.startswith("_")]
    unknown = [name for name in names if name not in available]
    if unknown:
        print(f"error: unknown benchmark(s) {', '.join(unknown)}; available: {', '.join(available)}", file=sys.stderr)
        return 2
    quiet.import_tensorflow()  # the benchmark modules import it; its C++ start-up lines kept off stderr
    modules = [(name, importlib.import_module(f"bench.{name}")) for name in names or available]
    if not names:  # opt-in benchmarks (long accuracy runs) run only when named
        modules = [(name, module) for name, module in modules if getattr(module, "DEFAULT", True)]
    rows, failed = run_modules(modules)
    print(format_table(rows))
    if failed:
        print(f"error: bench module(s) failed: {', '.join(failed)} (tracebacks above)", file=sys.stderr)
        return 1
    return 0


def run_modules(modules: list[tuple[str, object]]) -> tuple[list[dict], list[str]]:
    """Runs each module's ``main([])``; returns every row and the names of the modules that raised.

    A module that raises has its traceback printed and the others still run.
    """
    rows: list[dict] = []
    failed: list[str] = []
    for name, module in modules:
        print(f"== bench.{name}", file=sys.stderr, flush=True)
        try:
            rows += module.main([]) or []
        except Exception:  # noqa: BLE001 - the other modules still run; the command fails at the end
            traceback.print_exc()
            failed.append(name)
    return rows, failed


if __name__ == "__main__":
    sys.exit(main())
