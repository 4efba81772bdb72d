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
    assert backbone.model.color == "off" and backbone.model.pixel_difference is False
    assert backbone.model.encoder_weights == "imagenet" and backbone.model.frame_size == 96
    training = backbone.training  # the frozen phase on cached maps is the training; fine-tuning is opt-in
    assert (training.frozen_epochs, training.epochs, backbone.model.fine_tune_fraction) == (30, 3, 0.0)
    with pytest.raises(UserError, match="color must be auto, on or off"):
        config_lib.replace(VideoConfig(), color="grey").validate()


@pytest.mark.skipif(not MOBILENET_V2.exists(), reason=f"no shared ImageNet weights at {SHARED_WEIGHTS}")
def test_auto_gives_footage_what_the_readme_measured_and_says_why(keras_home, caplog):
    """The small CNN for folders even with MobileNetV2 cached (it measured better on weizmann4);
    ``--encoder-weights imagenet`` asks for a pretrained backbone; a weights file picks the one it fits."""
    keras_home.mkdir(parents=True)
    (keras_home / MOBILENET_V2.name).symlink_to(MOBILENET_V2)
    with caplog.at_level(logging.INFO):
        assert VideoConfig().resolved().model.encoder == "small_cnn"
        model = config_lib.replace(VideoConfig(), dataset="clips/").resolved().model
    assert (model.encoder, model.encoder_weights, model.frame_size, model.color) == ("small_cnn", "none", 16, "off")
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("encoder auto: small_cnn for video")]
    assert len(said) == 1 and "weizmann4" in said[0]
    pretrained = config_lib.replace(VideoConfig(), dataset="clips/", encoder_weights="imagenet").resolved().model
    assert (pretrained.encoder, pretrained.frame_size, pretrained.color) == ("mobilenet_v2", 96, "off")
    fitted = config_lib.replace(VideoConfig(), dataset="clips/", encoder_weights=str(MOBILENET_025)).resolved()
    assert fitted.model.encoder == "mobilenet_0.25"


def test_an_imagenet_backbone_without_weights_or_network_is_refused_in_one_line(keras_home):
    for settings in ({"encoder_weights": "imagenet"}, {"encoder": "mobilenet_v2"}):
        config = config_lib.replace(VideoConfig(), dataset="clips/", **settings)
        assert config.resolved().model.encoder == "mobilenet_v2"
        with pytest.raises(UserError, match="not cached and the network is unreachable") as refused:
            config.validate()
        assert MOBILENET_V2.name in str(refused.value) and str(keras_home) in str(refused.value)
