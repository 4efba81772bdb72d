"""The trained models as a device runs them (LiteRT): batch 1, fixed sizes, one frame or one image per call.

Video, :func:`build_video_step`; every tensor at most 4-D (GPU delegates take no more):

```
frame uint8 (1, size, size, 3), already at the model's size      states float32 (1, n) each, zeros to start
  → cast, grey if the model is, standardise (ScaleFrames: FramePreprocess
    without its resize, which is the identity at the model's size)            pixels (1, size, size, 3)
  → [pixels, pixels - previous pixels]           (pixel_difference)           (1, size, size, 6)
  → the trained frame encoder                                                 features (1, F)
  → [features, features - previous features]     (feature_difference)         (1, 2F)
  → the trained LSTM/GRU cell, one step from the carried states               (1, units)
  → the trained Dense softmax                                                 probabilities (1, classes)
new states, in state_sizes order: the cell's (h; c for LSTM), the features, the pixels flattened
```

Why one cell step rather than the export's ``stream`` graph: that graph loops over a time axis of
unknown length (``TensorListReserve``), which LiteRT cannot run without TensorFlow's own kernels (Flex).
One step of the cell has no loop and no time axis. The layers are the trained model's own (shared
variables), so the step fed a video frame by frame equals the stream model on it (1e-8 in float32).

Image, :func:`build_image_step`: ``image`` uint8 (1, size, size, 3) at the model's size → the
classifier's layers after its resize (the identity at that size, and an op LiteRT lacks) →
``probabilities`` (1, classes).
"""

from __future__ import annotations

import keras
from keras import layers

from models import video_cnn_rnn


@keras.saving.register_keras_serializable(package="device")
class ScaleFrames(layers.Layer):
    """uint8 frames (n, size, size, 3) → float32, grey and standardised as ``FramePreprocess`` does."""

    def __init__(self, scaling: str = "standardize", grey: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.scaling, self.grey = scaling, grey

    def call(self, frames):
        pixels = keras.ops.cast(frames, "float32")
        if self.scaling == "pixels":
            return video_cnn_rnn.scale_frames(pixels, self.scaling, self.grey)
        # (x - mean) / max(std, 1) as FramePreprocess computes it, in a form int8 represents: on 0..1
        # rather than 0..255, and the variance of the centred values rather than the mean of squares
        # (whose 0..65,025 range leaves int8 a step of 255): the same function (float32 within 1e-6),
        # and int8's first ops no longer blur every frame by its own brightness.
        unit = video_cnn_rnn.scale_frames(pixels, "pixels", self.grey) / 255.0
        centred = unit - keras.ops.mean(unit, axis=(1, 2, 3), keepdims=True)
        variance = keras.ops.mean(keras.ops.square(centred), axis=(1, 2, 3), keepdims=True)
        return centred * keras.ops.rsqrt(keras.ops.maximum(variance, 1.0 / 255.0**2))

    def get_config(self):
        return {**super().get_config(), "scaling": self.scaling, "grey": self.grey}


@keras.saving.register_keras_serializable(package="device")
class ToFloat(layers.Layer):
    """uint8 pixels → float32 pixels 0..255 (what the image classifier's resize layer hands on)."""

    def call(self, images):
        return keras.ops.cast(images, "float32")


def build_video_step(model: keras.Model, config) -> keras.Model:
    """One frame of the trained video model, its state carried explicitly (see the module docstring).

    Args:
        model: a model of ``video_cnn_rnn.build_video_cnn_rnn(config, ...)``, trained.
        config: its settings (``pipelines.configs.video.VideoModelConfig``, resolved).

    Returns:
        ``[frame, state_0, ...] → {probabilities, state_0, ...}``, inputs named ``frame`` and as
        :func:`video_cnn_rnn.state_sizes` lists the states.
    """
    size = config.frame_size
    sizes = video_cnn_rnn.state_sizes(config)
    frame = keras.Input(shape=(size, size, 3), batch_size=1, dtype="uint8", name="frame")
    states = [keras.Input(shape=(units,), batch_size=1, dtype="float32", name=name) for name, units in sizes.items()]
    num_recurrent = video_cnn_rnn.num_states(config.cell)
    recurrent_states, extra_states = states[:num_recurrent], states[num_recurrent:]
    preprocess = model.get_layer("preprocess")
    pixels = ScaleFrames(preprocess.scaling, preprocess.grey, name="scale_frames")(frame)  # (1, size, size, 3)
    x = pixels
    if config.pixel_difference:
        previous = layers.Reshape((size, size, 3), name="previous_pixels")(extra_states[-1])
        change = layers.Subtract(name="pixel_change")([pixels, previous])
        x = layers.Concatenate(name="pixels_and_change")([pixels, change])  # (1, size, size, 6)
    features = model.get_layer("frame_encoder")(x)  # (1, F)
    x = features
    if config.feature_difference:
        change = layers.Subtract(name="feature_change")([features, extra_states[0]])
        x = layers.Concatenate(name="features_and_change")([features, change])  # (1, 2F)
    output, new_states = model.get_layer("recurrent").cell(x, recurrent_states)  # (1, units), the cell's states
    new_states = list(new_states)
    if config.feature_difference:
        new_states.append(features)
    if config.pixel_difference:
        new_states.append(layers.Flatten(name="last_pixels")(pixels))
    probabilities = model.get_layer("probabilities")(output)  # dropout is the identity at inference
    outputs = {"probabilities": probabilities, **{name: state for name, state in zip(sizes, new_states)}}
    return keras.Model([frame, *states], outputs, name=f"{model.name}_step")


def build_image_step(model: keras.Model, image_size: int) -> keras.Model:
    """The trained image classifier (``models.cnn.build_image_classifier``) on one image at its size.

    Returns:
        ``image`` uint8 (1, image_size, image_size, 3) → ``{probabilities}`` (1, classes).
    """
    image = keras.Input(shape=(image_size, image_size, 3), batch_size=1, dtype="uint8", name="image")
    x = ToFloat(name="to_float")(image)
    names = [layer.name for layer in model.layers]
    for layer in model.layers[names.index("resize") + 1 :]:  # a chain: scaling, encoder, pooling, head
        x = layer(x)
    return keras.Model(image, {"probabilities": x}, name=f"{model.name}_step")
