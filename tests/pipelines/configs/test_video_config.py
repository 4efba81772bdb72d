"""The video config's automatic values: they follow the data, and every run saves them resolved."""

import pytest

from common import config as config_lib
from common.errors import UserError
from pipelines.configs.video import VideoConfig


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
    with pytest.raises(UserError, match="takes RGB frames"):
        config_lib.replace(VideoConfig(), dataset="clips/", encoder="mobilenet_v3_small", color="off").validate()
    with pytest.raises(UserError, match="color must be auto, on or off"):
        config_lib.replace(VideoConfig(), color="grey").validate()
