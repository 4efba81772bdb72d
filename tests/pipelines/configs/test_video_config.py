"""The video config's automatic values: they follow the data, and every run saves them resolved."""

import logging

import pytest

from common import config as config_lib
from common.errors import UserError
from pipelines.configs.video import VideoConfig
from tests.helpers import MOBILENET_025, MOBILENET_V2, SHARED_WEIGHTS


def test_automatic_settings_follow_the_data():
    """Folders and tfds: 16 px grey frames, 30 epochs and no early stop; the embedded clips: 32 px RGB,
    10 epochs, patience 5; RGB whenever a pretrained or RGB-only encoder is used."""

    def resolved(**settings):
        config = config_lib.replace(VideoConfig(), **settings).resolved()
        return config.model.frame_size, config.model.color, config.training.epochs, config.training.patience

    assert resolved() == (32, "on", 10, 5)
    assert resolved(dataset="clips/") == (16, "off", 30, 30)
    assert resolved(dataset="clips/", epochs=50)[3] == 50
    assert resolved(dataset="clips/", encoder_weights="runs/image/1")[1] == "on"
    backbone = config_lib.replace(VideoConfig(), dataset="tfds:ucf101", encoder="mobilenet_v3_small").resolved()
    assert backbone.model.color == "on" and backbone.model.pixel_difference is False
    assert backbone.model.encoder_weights == "imagenet" and backbone.model.frame_size == 96
    with pytest.raises(UserError, match="color must be auto, on or off"):
        config_lib.replace(VideoConfig(), color="grey").validate()


@pytest.mark.skipif(not MOBILENET_V2.exists(), reason=f"no shared ImageNet weights at {SHARED_WEIGHTS}")
def test_auto_picks_a_pretrained_backbone_for_footage_when_its_weights_are_cached(keras_home):
    """The embedded clips keep the small CNN; a folder gets MobileNetV2 at 96 px from Keras's cache."""
    keras_home.mkdir(parents=True)
    (keras_home / MOBILENET_V2.name).symlink_to(MOBILENET_V2)
    assert VideoConfig().resolved().model.encoder == "small_cnn"
    model = config_lib.replace(VideoConfig(), dataset="clips/").resolved().model
    assert (model.encoder, model.encoder_weights, model.frame_size, model.color) == (
        "mobilenet_v2",
        "imagenet",
        96,
        "on",
    )
    small = config_lib.replace(VideoConfig(), dataset="clips/", encoder_weights="none").resolved().model
    assert (small.encoder, small.frame_size, small.color) == ("small_cnn", 16, "off")
    fitted = config_lib.replace(VideoConfig(), dataset="clips/", encoder_weights=str(MOBILENET_025)).resolved()
    assert fitted.model.encoder == "mobilenet_0.25"  # auto with a weights file: the backbone the file fits


def test_auto_without_weights_trains_the_small_cnn_and_says_once_how_to_get_them(keras_home, caplog):
    with caplog.at_level(logging.WARNING):
        model = config_lib.replace(VideoConfig(), dataset="clips/").resolved().model
        config_lib.replace(VideoConfig(), dataset="clips/").resolved()
    assert (model.encoder, model.encoder_weights, model.frame_size) == ("small_cnn", "none", 16)
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1 and MOBILENET_V2.name in warnings[0] and str(keras_home) in warnings[0]
    with pytest.raises(UserError, match="not cached and the network is unreachable"):
        config_lib.replace(VideoConfig(), dataset="clips/", encoder="mobilenet_v2").validate()
