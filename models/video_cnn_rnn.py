"""The video model: a CNN encodes every frame, an LSTM or GRU carries context across frames.

```
frames uint8 (batch, time, h, w, 3), any h and w
  → FramePreprocess: resize to (size, size), standardise each frame     (batch * time, size, size, 3)
    (grey in all three channels with ``color="off"``; for a keras.applications backbone: pixels
    0..255, it scales them itself)
  → frame encoder, every frame alone (models/frame_encoders.py)          (batch * time, features)
  → SplitTime                                                            (batch, time, features)
  → TemporalDifference: [features_t, features_t - features_t-1]          (batch, time, 2 * features)
  → LSTM / GRU, return_sequences (unidirectional: causal)                (batch, time, units)
  → Dense softmax                                                        (batch, time, classes)
```

Output at frame t depends on frames 0..t only. The feature difference (optional, on by default)
hands the recurrent layer the change since the previous frame, which it could learn to compute
itself but only after many more epochs; the CNN still sees one frame at a time.

The encoder runs once on all frames folded into the batch axis rather than through
``layers.TimeDistributed``: same result, one convolution call instead of a loop over time, and
Keras 3.15's ``TimeDistributed`` mixes up the batch and time axes when both are unknown at trace
time (as in an export signature). :func:`build_stream_model` reuses the same layers
with the recurrent state as explicit inputs and outputs (``state_0``, ``state_1`` ...), so a long
video can be fed chunk by chunk with the same result as in one call (the last state carries the
previous frame's features for the difference). The recurrent layers keep
the fused-kernel conditions (default activations, no recurrent dropout, ``reset_after=True``).
:func:`build_frame_baseline` is the same CNN without recurrence: it sees one frame at a time.
"""

from __future__ import annotations

import keras
from keras import layers

from models import frame_encoders
from models.cells import VIDEO_CELLS as CELLS


def scale_frames(images, scaling: str, grey: bool):
    """(n, size, size, 3) float32 pixels 0..255 → the encoder's input: grey if asked, then standardised
    (or left as pixels). FramePreprocess after its resize; the device step (models/device_step.py)
    runs it alone on frames already at the model's size."""
    if grey:
        luma = keras.ops.convert_to_tensor([0.299, 0.587, 0.114], "float32")
        images = keras.ops.repeat(keras.ops.sum(images * luma, axis=-1, keepdims=True), 3, axis=-1)
    if scaling == "pixels":
        return images
    mean = keras.ops.mean(images, axis=(1, 2, 3), keepdims=True)
    std = keras.ops.std(images, axis=(1, 2, 3), keepdims=True)
    return (images - mean) / keras.ops.maximum(std, 1.0)


@keras.saving.register_keras_serializable(package="video")
class FramePreprocess(layers.Layer):
    """uint8 frames (batch, time, h, w, 3) of any size → float32 (batch * time, size, size, 3).

    Resizing is anti-aliased bilinear (as the data sources resize); standardising each frame
    (zero mean, unit variance over its pixels) keeps it causal and makes brightness irrelevant.
    ``scaling="pixels"`` leaves the values at 0..255 for backbones that scale inputs themselves.
    ``grey=True``: the ITU-R BT.601 luma in all three channels, so that colour, often the colour of
    a recording's background, cannot stand in for what happens in it. (Three copies rather than one
    channel: on weizmann4, people never seen, 0.97 per video against 0.91 with one, over two seeds;
    the first convolution then starts at a larger scale. Every shape stays that of RGB.)
    """

    def __init__(self, size: int, scaling: str = "standardize", grey: bool = False, **kwargs):
        super().__init__(**kwargs)
        if scaling not in ("standardize", "pixels"):
            raise ValueError(f"scaling must be standardize or pixels, got '{scaling}'")
        self.size, self.scaling, self.grey = size, scaling, grey

    def call(self, frames):
        shape = keras.ops.shape(frames)
        images = keras.ops.reshape(keras.ops.cast(frames, "float32"), (-1, shape[2], shape[3], shape[4]))
        images = keras.ops.image.resize(images, (self.size, self.size), antialias=True)
        return scale_frames(images, self.scaling, self.grey)

    def compute_output_shape(self, input_shape):
        return (None, self.size, self.size, 3)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "scaling": self.scaling, "grey": self.grey}


@keras.saving.register_keras_serializable(package="video")
class SplitTime(layers.Layer):
    """Unfolds per-frame features (batch * time, features) into (batch, time, features)."""

    def call(self, features, frames):
        shape = keras.ops.shape(frames)
        return keras.ops.reshape(features, (shape[0], shape[1], features.shape[-1]))

    def compute_output_shape(self, features_shape, frames_shape):
        return (frames_shape[0], frames_shape[1], features_shape[-1])


@keras.saving.register_keras_serializable(package="video")
class TemporalDifference(layers.Layer):
    """(batch, time, F) → (batch, time, 2F): each frame's features and their change since the
    previous frame; before the first frame come ``previous`` (batch, F) features, zeros by default."""

    def call(self, features, previous=None):
        if previous is None:
            previous = keras.ops.zeros_like(features[:, 0])
        shifted = keras.ops.concatenate([keras.ops.expand_dims(previous, 1), features[:, :-1]], axis=1)
        return keras.ops.concatenate([features, features - shifted], axis=-1)

    def compute_output_shape(self, features_shape, previous_shape=None):
        return (*features_shape[:-1], 2 * features_shape[-1])


@keras.saving.register_keras_serializable(package="video")
class PixelDifference(layers.Layer):
    """Preprocessed frames (batch * time, s, s, C) → (batch * time, s, s, 2C): each frame and its
    change since the previous frame, so the CNN sees motion as well as appearance. Before the
    first frame comes ``previous`` (batch, s * s * C), zeros by default, as in the stream state."""

    def call(self, images, frames, previous=None):
        shape = keras.ops.shape(frames)
        size, channels = images.shape[1], images.shape[3]
        sequence = keras.ops.reshape(images, (shape[0], shape[1], size, size, channels))
        if previous is None:
            before = keras.ops.zeros_like(sequence[:, :1])
        else:
            before = keras.ops.reshape(previous, (shape[0], 1, size, size, channels))
        shifted = keras.ops.concatenate([before, sequence[:, :-1]], axis=1)
        both = keras.ops.concatenate([sequence, sequence - shifted], axis=-1)
        return keras.ops.reshape(both, (-1, size, size, 2 * channels))

    def compute_output_shape(self, images_shape, frames_shape, previous_shape=None):
        return (images_shape[0], images_shape[1], images_shape[2], 2 * images_shape[3])


@keras.saving.register_keras_serializable(package="video")
class LastFrame(layers.Layer):
    """Preprocessed frames (batch * time, s, s, C) → the last one of each video, flat (batch, s * s * C)."""

    def call(self, images, frames):
        shape = keras.ops.shape(frames)
        flat = keras.ops.reshape(images, (shape[0], shape[1], -1))
        return flat[:, -1]

    def compute_output_shape(self, images_shape, frames_shape):
        return (frames_shape[0], images_shape[1] * images_shape[2] * images_shape[3])


def num_states(cell: str) -> int:
    """Recurrent state tensors per layer: LSTM has h and c, GRU has h."""
    return 2 if cell == "lstm" else 1


def state_sizes(config) -> dict[str, int]:
    """The stream signature's state tensors, ``{name: size}`` in order: the recurrent layer's
    (``state_0`` = h, ``state_1`` = c for LSTM), then the previous frame's features and its
    preprocessed pixels, each if used."""
    sizes = {f"state_{index}": config.units for index in range(num_states(config.cell))}
    if config.feature_difference:
        sizes[f"state_{len(sizes)}"] = config.dense_units
    if config.pixel_difference:
        sizes[f"state_{len(sizes)}"] = config.frame_size * config.frame_size * 3
    return sizes


def _encoder(config, pixel_difference: bool | None = None) -> keras.Model:
    return frame_encoders.build_frame_encoder(config, pixel_difference)


def _preprocess(config) -> FramePreprocess:
    scaling = frame_encoders.input_scaling(config.encoder)
    grey = config.color == "off"
    return FramePreprocess(config.frame_size, scaling, grey, name="preprocess")


def _recurrent_layer(config, use_cudnn: bool | str):
    common = dict(return_sequences=True, return_state=True, use_cudnn=use_cudnn, name="recurrent")
    if config.cell == "lstm":
        return layers.LSTM(config.units, **common)
    if config.cell == "gru":
        return layers.GRU(config.units, reset_after=True, **common)
    raise ValueError(f"cell must be one of {', '.join(CELLS)}, got '{config.cell}'")


def build_video_cnn_rnn(config, num_classes: int, use_cudnn: bool | str = "auto") -> keras.Model:
    """Builds the CNN + LSTM/GRU per-frame classifier.

    Args:
        config: the model settings (``pipelines.configs.video.VideoModelConfig``, resolved: no
            automatic values left).
        num_classes: number of output classes.
        use_cudnn: passed to the recurrent layer; ``False`` for exports (no cuDNN ops).

    Returns:
        ``frames`` uint8 (batch, time, h, w, 3) → probabilities (batch, time, classes).
    """
    frames = keras.Input(shape=(None, None, None, 3), dtype="uint8", name="frames")
    x = _preprocess(config)(frames)
    if config.pixel_difference:
        x = PixelDifference(name="pixel_difference")(x, frames)  # (batch * time, size, size, 6)
    x = SplitTime(name="split_time")(_encoder(config)(x), frames)  # (batch, time, features)
    if config.feature_difference:
        x = TemporalDifference(name="temporal_difference")(x)  # (batch, time, 2 * features)
    sequence, *_ = _recurrent_layer(config, use_cudnn)(x)  # (batch, time, units)
    sequence = layers.Dropout(config.dropout, name="head_dropout")(sequence)
    probabilities = layers.Dense(num_classes, activation="softmax", name="probabilities")(sequence)
    return keras.Model(frames, probabilities, name=f"video_cnn_{config.cell}")


def build_stream_model(model: keras.Model, config) -> keras.Model:
    """The same layers (shared weights) with the recurrent state as inputs and outputs.

    Returns:
        A model ``{frames, state_0, ...} → {probabilities, state_0, ...}``; states are float32
        (batch, size) as :func:`state_sizes` lists them, zeros at the start of a video.
    """
    frames = keras.Input(shape=(None, None, None, 3), dtype="uint8", name="frames")
    states = [keras.Input(shape=(size,), dtype="float32", name=name) for name, size in state_sizes(config).items()]
    pixels = model.get_layer("preprocess")(frames)
    extra_states = states[num_states(config.cell) :]  # previous features, previous pixels: as used
    x = pixels
    if config.pixel_difference:
        x = model.get_layer("pixel_difference")(pixels, frames, extra_states[-1])
    x = model.get_layer("split_time")(model.get_layer("frame_encoder")(x), frames)
    recurrent_states = states[: num_states(config.cell)]
    new_states = []
    if config.feature_difference:
        features = x
        x = model.get_layer("temporal_difference")(features, extra_states[0])
    sequence, *new_states = model.get_layer("recurrent")(x, initial_state=recurrent_states)
    if config.feature_difference:
        new_states.append(features[:, -1])
    if config.pixel_difference:
        new_states.append(LastFrame(name="last_frame")(pixels, frames))
    sequence = model.get_layer("head_dropout")(sequence)
    probabilities = model.get_layer("probabilities")(sequence)
    outputs = {"probabilities": probabilities}
    outputs.update({f"state_{index}": state for index, state in enumerate(new_states)})
    inputs = {"frames": frames, **{f"state_{index}": state for index, state in enumerate(states)}}
    return keras.Model(inputs, outputs, name=f"{model.name}_stream")


def build_frame_baseline(config, num_classes: int) -> keras.Model:
    """The same preprocessing and CNN with no recurrence: each frame is classified alone."""
    frames = keras.Input(shape=(None, None, None, 3), dtype="uint8", name="frames")
    x = _preprocess(config)(frames)
    x = SplitTime(name="split_time")(_encoder(config, pixel_difference=False)(x), frames)
    x = layers.Dropout(config.dropout, name="head_dropout")(x)
    probabilities = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(frames, probabilities, name="frame_cnn_baseline")
