"""The video model's frozen phase on cached backbone maps: the same function as the model, and only the
layers above the backbone train."""

import numpy as np
import pytest
import tensorflow as tf

from common import config as config_lib
from models import video_cnn_rnn
from pipelines.configs.video import VideoConfig
from pipelines.datasets.labeled_data import VideoData
from pipelines.training import trainer, video_transfer


def _folder_like_data(num_videos=6, size=32, seed=0):
    """Videos of 10 to 20 frames in two classes, as a folder source hands them over (whole videos)."""
    rng = np.random.default_rng(seed)
    videos = []
    for index in range(num_videos):
        frames = rng.integers(0, 255, (10 + 2 * index, size, size, 3), dtype=np.uint8)
        videos.append((lambda frames=frames: frames, index % 2, f"video{index}.mp4"))
    empty = tf.data.Dataset.from_tensors((np.zeros((4, size, size, 3), np.uint8), np.zeros(4, np.int64)))
    return VideoData(
        empty, empty, empty, class_names=["a", "b"], sizes={"train": 1, "validation": 1, "test": 1},
        description="videos", videos={"train": videos, "validation": videos[:2], "test": videos[:2]},
    )  # fmt: skip


def _config(tiny_video_config, **changes):
    model = tiny_video_config(encoder="mobilenet_0.25", frame_size=32, feature_difference=True)
    return config_lib.replace(
        VideoConfig(model=model), num_frames=4, batch_size=4, min_clips_per_epoch=8, epochs=1, patience=1, **changes
    )


def test_the_model_on_cached_maps_is_the_model(tiny_video_config):
    """Every frame through the backbone once; a clip of its maps through the layers above gives the
    full model's probabilities on that clip's frames."""
    config = _config(tiny_video_config)
    data = _folder_like_data()
    model = video_cnn_rnn.build_video_cnn_rnn(config.model, 2)
    train, validation = video_transfer.cached_datasets(model, config, data)
    maps, labels = next(iter(validation))
    assert maps.shape[1:] == (4, 1, 1, 256) and labels.shape[1:] == (4,)
    top = video_transfer.top_model(model, config.model)
    frames = data.videos["validation"][0][0]()[:4]
    expected = model(frames[np.newaxis], training=False).numpy()
    np.testing.assert_allclose(top(maps[:1], training=False).numpy(), expected, atol=1e-5)
    segments = sum(round(len(whole()) / 4) for whole, _, _ in data.videos["train"])  # 22 of 4 frames
    assert len(list(train.unbatch())) == segments  # one clip in every segment of every video


def test_the_frozen_phase_trains_the_layers_above_the_backbone_only(tiny_video_config, tmp_path):
    config = _config(tiny_video_config, flip=True)
    model = video_cnn_rnn.build_video_cnn_rnn(config.model, 2)
    build, (train, validation) = video_transfer.frozen_model_builder(model, config, _folder_like_data())
    encoder = model.get_layer("frame_encoder")
    layers = {"backbone": encoder.get_layer("backbone"), "features": encoder.get_layer("features")}
    layers["recurrent"] = model.get_layer("recurrent")
    before = {name: [w.copy() for w in layer.get_weights()] for name, layer in layers.items()}
    trainer.fit(build, train, validation, config.training, tmp_path, tf.distribute.get_strategy(), tmp_path / "b")
    changed = {
        name: not all(np.array_equal(a, b) for a, b in zip(before[name], layer.get_weights()))
        for name, layer in layers.items()
    }
    assert changed == {"backbone": False, "features": True, "recurrent": True}


def test_clips_that_would_not_fit_are_not_cached(tiny_video_config, monkeypatch):
    """Sources without whole videos: one pass of their clips, unless that is over the bound."""
    config = _config(tiny_video_config)
    clips = tf.data.Dataset.from_tensor_slices((np.zeros((3, 4, 32, 32, 3), np.uint8), np.zeros((3, 4), np.int64)))
    data = VideoData(clips, clips, clips, ["a", "b"], {"train": 3, "validation": 3, "test": 3}, "clips")
    model = video_cnn_rnn.build_video_cnn_rnn(config.model, 2)
    train, _ = video_transfer.cached_datasets(model, config, data)
    assert len(list(train.unbatch())) == 3
    monkeypatch.setattr(video_transfer, "MAX_CACHE_BYTES", 1000)
    build, cached = video_transfer.frozen_model_builder(model, config, data)
    assert cached is None and build() is model and not model.get_layer("frame_encoder").get_layer("backbone").trainable


if __name__ == "__main__":
    pytest.main([__file__])
