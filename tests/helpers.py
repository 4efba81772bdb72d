"""Helpers the tests share: running a module as a user would, and the paths of the project and its data."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


def run_module(
    module: str, *args: str, cwd: pathlib.Path | None = None, timeout: float = 300, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Runs ``python -m module args`` as a user would, from the project root by default."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd or PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **(env or {})},
    )


def refusals_without_tensorflow(
    modules: list[str], datasets: list[str], env: dict | None = None
) -> tuple[list[int], bool, list[str]]:
    """Runs ``pipelines.<module>.main(["--dataset", d])`` for each module and each ``d``, in one fresh
    process; returns the exit codes, whether TensorFlow got imported, and the ``error:`` lines of stderr."""
    script = (
        "import importlib, sys\n"
        "from common import cli\n"
        "modules = [importlib.import_module('pipelines.' + name) for name in sys.argv[1].split(',')]\n"
        "codes = [cli.run(m.main, ['--dataset', d]) for m in modules for d in sys.argv[2:]]\n"
        "print(codes, 'tensorflow' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, ",".join(modules), *datasets],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **(env or {})},
    )
    assert result.returncode == 0 and result.stdout.strip(), result.stderr[-2000:]
    codes, tensorflow_loaded = result.stdout.strip().rsplit(" ", 1)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    return [int(code) for code in codes.strip("[]").split(",")], tensorflow_loaded == "True", errors
