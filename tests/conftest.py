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


def pytest_collection_modifyitems(config, items):
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
