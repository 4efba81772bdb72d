"""Frame encoders for the video model: the small CNN, or a ``keras.applications`` backbone.

```
small_cnn:   standardised frame (size, size, 3)
  → [conv → batch norm → relu → max pool] x len(filters) → flatten → dropout → dense  (features)
backbone:    frame as pixels 0..255 (size, size, 3), scaled as its ImageNet weights expect
  → a keras.applications model without its top (models/backbones.py; fine-tuned with its
    BatchNorm frozen)                                        (size/32, size/32, channels)
  → 1x1 conv to ``filters[-1]`` channels → flatten → dropout → dense                  (features)
```

Both keep where things are in the frame (flatten, no global average pooling): motion direction
is a change of position, and an LSTM on top of position-free features cannot see it. The
backbones are always built with ``weights=None`` so the architecture follows from the config
alone (the export rebuilds it without any download); pretrained weights are copied in afterwards
(``pipelines.training.encoder_weights``). Keras is imported inside the builders: the configs check an
encoder against ENCODERS before TensorFlow starts.
"""

from __future__ import annotations

from models import backbones

ENCODERS = ("small_cnn", *backbones.BACKBONES)


def input_scaling(encoder: str) -> str:
    """How frames enter the encoder: ``standardize`` (zero mean, unit variance) or ``pixels`` (0..255)."""
    return "standardize" if encoder == "small_cnn" else "pixels"


def build_frame_encoder(config, pixel_difference: bool | None = None):
    """``(size, size, 3)`` float frames → ``dense_units`` features, named ``frame_encoder``.

    Args:
        config: the model settings (``pipelines.configs.video.VideoModelConfig``): ``encoder``,
            ``frame_size``, ``filters``, ``convs_per_block``, ``dense_units``, ``dropout`` and
            ``pixel_difference`` (the small CNN then takes each frame with its change since the
            previous one: 6 channels).
        pixel_difference: overrides the config's (the frame-only baseline sees one frame).

    Returns:
        A ``keras.Model``.
    """
    # Deferred: see the note on BACKBONES.
    import keras
    from keras import layers

    from models import cnn

    encoder = config.encoder
    if encoder == "small_cnn":
        return cnn.build_cnn_encoder(
            config.frame_size,
            tuple(config.filters),
            config.convs_per_block,
            config.dense_units,
            config.dropout,
            head="flatten",  # keeps where the shape is: motion direction needs it
            pooling="max",
            name="frame_encoder",
            channels=6 if (config.pixel_difference if pixel_difference is None else pixel_difference) else 3,
        )
    if encoder not in backbones.BACKBONES:
        raise ValueError(f"encoder must be one of {', '.join(ENCODERS)}, got '{encoder}'")
    inputs = keras.Input(shape=(config.frame_size, config.frame_size, 3), name="pixels")
    x = backbones.scale_pixels(encoder, inputs)
    x = backbones.build_backbone(encoder, config.frame_size)(x)
    x = layers.Conv2D(config.filters[-1], 1, activation="relu", name="reduce")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(config.dropout, name="dropout")(x)
    x = layers.Dense(config.dense_units, activation="relu", name="features")(x)
    return keras.Model(inputs, x, name="frame_encoder")
