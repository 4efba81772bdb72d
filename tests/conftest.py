"""Fixtures every test may use (seeds, the shared data, a development server); slow tests are opt-in
(``--run-slow``, ``make test-all``). Helper functions are in :mod:`tests.helpers`, not here."""

from __future__ import annotations

import os
import pathlib
import shutil
import tempfile

import pytest

from common import quiet  # noqa: F401 - the native libraries' log levels, for this process and its children
from tests.helpers import SHARED_DATA

# Decoded-frame caches of test videos go to a per-process temporary folder, not the project's data/.
_VIDEO_CACHE = tempfile.mkdtemp(prefix="video-cache-")
os.environ["VIDEO_CACHE_DIR"] = _VIDEO_CACHE
# No downloads, and an empty Keras cache: ``--encoder auto`` picks the small CNN unless a test puts
# weights in a cache of its own (the user's ~/.keras/models must not change what the tests run).
os.environ["NO_DOWNLOADS"] = "1"
_KERAS_HOME = os.environ["KERAS_HOME"] = tempfile.mkdtemp(prefix="keras-home-")


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_VIDEO_CACHE, ignore_errors=True)
    shutil.rmtree(_KERAS_HOME, ignore_errors=True)


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", help="also run tests marked slow")


# The modules that take longest on one worker (a training run shared by their tests, or several
# TensorFlow processes), longest first, from `pytest --durations=0` on 2 cores: 70-120 s for the first
# two, 30-80 s for the rest. `make test` hands whole modules to the workers in collection order
# (`--dist loadscope --no-loadscope-reorder`); collected first, the two longest start at once on
# different workers and the short modules fill in at the end, instead of one worker drawing both.
LONGEST_MODULES = (
    "tests/pipelines/test_image_pipeline.py",
    "tests/pipelines/report/test_report.py",
    "tests/pipelines/test_textgen_pipeline.py",
    "tests/pipelines/test_video_pipeline.py",
    "tests/pipelines/test_text_pipeline.py",
    "tests/serving/classify/test_classify_video.py",
    "tests/pipelines/training/test_multi_worker_training.py",
    "tests/serving/rest/test_server_limits.py",
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


@pytest.fixture(scope="session")
def dev_server():
    """``dev_server(export_root, *flags)``: a development server (``serving.rest.dev_server``) on a free
    port; returns its ``DevServer`` (``.url``, ``.stop()``). Stop it where its test or module ends; any
    still running is stopped at the end of the session."""
    from serving.rest import dev_server as dev_server_lib

    started = []

    def start(export_root, *arguments):
        server = dev_server_lib.start(export_root, *arguments, environment={"CUDA_VISIBLE_DEVICES": ""})
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def tiny_video_config():
    """``tiny_video_config(cell="gru", ...)``: the video model's settings in miniature (16x16 frames), resolved."""

    from common import config as config_lib
    from pipelines.configs.video import VideoModelConfig

    def make(**changes):
        values = dict(
            encoder="small_cnn",
            encoder_weights="none",
            frame_size=16,
            filters=(4, 8),
            convs_per_block=1,
            dense_units=8,
            dropout=0.0,
            cell="lstm",
            units=8,
            feature_difference=False,
            pixel_difference=False,
            color="on",
        )
        values.update(changes)
        return config_lib.replace(VideoModelConfig(), **values)

    return make


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """An empty Keras cache of this test's own (its ``models/`` folder, not yet made) and no network;
    ``--encoder auto``'s memo of earlier answers forgotten."""
    from common import network
    from pipelines.configs import pretrained

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(network, "downloads_reachable", lambda timeout=3.0: False)
    for cached in (pretrained.choose_auto_encoder, pretrained._downloads_reachable, pretrained._video_auto_said):
        cached.cache_clear()
    yield tmp_path / "keras" / "models"
    for cached in (pretrained.choose_auto_encoder, pretrained._downloads_reachable, pretrained._video_auto_said):
        cached.cache_clear()
