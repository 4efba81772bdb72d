"""The image config's encoder: auto picks an ImageNet backbone when its weights can be had, else the small
CNN with one warning; weights that cannot be had or do not fit are refused before TensorFlow loads."""

from __future__ import annotations

import logging
import shutil

import pytest

from common import config as config_lib
from pipelines.configs import pretrained
from pipelines.configs.image import ImageConfig
from tests.helpers import MOBILENET_025, MOBILENET_V2, SHARED_WEIGHTS, exits_without_tensorflow

needs_weights = pytest.mark.skipif(not MOBILENET_V2.exists(), reason=f"no shared ImageNet weights at {SHARED_WEIGHTS}")


def _resolved(**settings):
    return config_lib.replace(ImageConfig(), **settings).resolved()


def test_auto_keeps_the_small_cnn_for_the_embedded_shapes(keras_home):
    config = _resolved()
    assert (config.model.encoder, config.model.encoder_weights, config.model.image_size) == ("small_cnn", "none", 48)
    assert config.training.epochs == 20


@needs_weights
def test_auto_picks_mobilenet_v2_when_its_weights_are_cached(keras_home):
    keras_home.mkdir(parents=True)
    (keras_home / MOBILENET_V2.name).symlink_to(MOBILENET_V2)
    config = _resolved(dataset="photos/")
    assert (config.model.encoder, config.model.encoder_weights, config.model.image_size) == (
        "mobilenet_v2",
        "imagenet",
        224,
    )
    assert config.training.epochs == 5
    assert pretrained.cached_imagenet_file("mobilenet_v2", 96) == keras_home / MOBILENET_V2.name  # any size


def test_auto_without_weights_or_network_trains_the_small_cnn_and_says_how_to_get_them(keras_home, caplog):
    with caplog.at_level(logging.WARNING):
        config = _resolved(dataset="photos/")
        _resolved(dataset="photos/")  # asked again: the warning is not repeated
    assert config.model.encoder == "small_cnn" and config.model.image_size == 48
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert MOBILENET_V2.name in warnings[0] and str(keras_home) in warnings[0] and "--encoder-weights" in warnings[0]


@needs_weights
def test_weights_that_cannot_be_had_or_do_not_fit_are_one_line_before_tensorflow(tmp_path):
    shutil.copy(MOBILENET_025, tmp_path / "small.h5")
    (tmp_path / "photos" / "cat").mkdir(parents=True)
    (tmp_path / "photos" / "dog").mkdir()
    base = ["--dataset", str(tmp_path / "photos"), "--runs-dir", str(tmp_path / "runs")]
    calls = [
        ("pipelines.image", [*base, "--encoder", "mobilenet_v2", "--encoder-weights", str(tmp_path / "none.h5")]),
        ("pipelines.image", [*base, "--encoder", "mobilenet_v2", "--encoder-weights", str(tmp_path / "small.h5")]),
        ("pipelines.image", [*base, "--encoder", "mobilenet_v2", "--encoder-weights", "imagenet"]),
        ("pipelines.image", [*base, "--encoder", "small_cnn", "--encoder-weights", "imagenet"]),
    ]
    empty_cache = {"KERAS_HOME": str(tmp_path / "keras"), "HOME": str(tmp_path)}
    codes, tensorflow_loaded, errors = exits_without_tensorflow(calls, env=empty_cache)
    assert codes == [2] * len(calls) and not tensorflow_loaded and len(errors) == len(calls), errors
    assert "none.h5' is not imagenet, none, a weights file" in errors[0]
    assert "does not fit the mobilenet_v2 encoder" in errors[1] and "it fits --encoder mobilenet_0.25" in errors[1]
    assert "not cached and the network is unreachable" in errors[2] and MOBILENET_V2.name in errors[2]
    assert "needs a keras.applications encoder" in errors[-1]
