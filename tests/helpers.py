"""Helpers the tests share: running a module as a user would, and the paths of the project and its data."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
SHARED_WEIGHTS = PROJECT_ROOT.parent / "shared" / "weights"  # real ImageNet files (its README)
MOBILENET_V2 = SHARED_WEIGHTS / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
MOBILENET_025 = SHARED_WEIGHTS / "mobilenet_2_5_224_tf_no_top.h5"  # 1 MB: the tests' backbone


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
    calls = [(f"pipelines.{module}", ["--dataset", dataset]) for module in modules for dataset in datasets]
    return exits_without_tensorflow(calls, env)


def exits_without_tensorflow(
    calls: list[tuple[str, list[str]]], env: dict | None = None
) -> tuple[list[int], bool, list[str]]:
    """Runs ``module.main(argv)`` for each ``(module, argv)`` in one fresh process, as ``common.cli.run``
    does; returns the exit codes, whether TensorFlow got imported, and the ``error:`` lines of stderr."""
    script = (
        "import importlib, json, sys\n"
        "from common import cli\n"
        "calls = json.loads(sys.argv[1])\n"
        "codes = [cli.run(importlib.import_module(module).main, argv) for module, argv in calls]\n"
        "print(codes, 'tensorflow' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, json.dumps(calls)],
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
