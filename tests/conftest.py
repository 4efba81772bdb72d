"""Shared fixtures; slow tests are opt-in (``--run-slow``, ``make test-all``)."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Decoded-frame caches of test videos go to a per-process temporary folder, not the project's data/.
_VIDEO_CACHE = tempfile.mkdtemp(prefix="video-cache-")
os.environ["VIDEO_CACHE_DIR"] = _VIDEO_CACHE

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_VIDEO_CACHE, ignore_errors=True)


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", help="also run tests marked slow")


# The modules that take longest on one worker (a training run shared by their tests, or several
# TensorFlow processes), longest first, from `pytest --durations=0` on 2 cores: 70-120 s for the first
# two, 30-80 s for the rest. `make test` hands whole modules to the workers in collection order
# (`--dist loadscope --no-loadscope-reorder`); collected first, the two longest start at once on
# different workers and the short modules fill in at the end, instead of one worker drawing both.
LONGEST_MODULES = (
    "tests/image/test_image_pipeline.py",
    "tests/report/test_report.py",
    "tests/textgen/test_textgen_pipeline.py",
    "tests/video/test_video_pipeline.py",
    "tests/text/test_text_pipeline.py",
    "tests/serving/test_classify_video.py",
    "tests/distributed/test_multi_worker_training.py",
    "tests/serving/test_server_limits.py",
)


def pytest_collection_modifyitems(config, items):
    rank = {name: index for index, name in enumerate(LONGEST_MODULES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))  # stable: the rest keep their order
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow (make test-all)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _seed():
    import keras

    keras.utils.set_random_seed(0)


@pytest.fixture(scope="session")
def shared_data() -> pathlib.Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real sample data not found at {SHARED_DATA}")
    return SHARED_DATA


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
