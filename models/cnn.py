"""The convolutional networks: the small CNN (conv → pool blocks, a fully connected head) and the image
classifier on it or on a pretrained ``keras.applications`` backbone.

:func:`build_cnn_encoder` maps one image to a feature vector and is shared by the image
classifier and, wrapped in ``TimeDistributed``, by the video model's frame encoder. Its default
head flattens the last feature map before the dense layer, so the features still say *where*
things are (a global average would throw position away, and with it motion direction).
"""

from __future__ import annotations

import keras
from keras import layers

from models import backbones, standardization


def build_cnn_encoder(
    image_size: int,
    filters: tuple[int, ...] = (32, 64, 128),
    convs_per_block: int = 2,
    dense_units: int = 128,
    dropout: float = 0.3,
    head: str = "flatten",
    pooling: str = "max",
    name: str = "cnn_encoder",
    channels: int = 3,
) -> keras.Model:
    """Builds the frame/image encoder.

    Args:
        image_size: input height and width; inputs are float32 standardised images
            (batch, size, size, 3) (see ``PerImageStandardization``).
        filters: output channels of each conv block; each block halves the resolution.
        convs_per_block: 3x3 convolutions (with batch norm and ReLU) per block.
        dense_units: size of the feature vector; 0 returns the pooled feature map itself.
        dropout: dropout rate before the dense layer.
        head: ``flatten`` keeps spatial layout; ``global_average`` averages it away.
        pooling: ``max`` pooling between blocks, or ``none`` (strided convolutions instead,
            same parameter count), used by the report to show what pooling buys.
        name: model name.
        channels: input channels (the video encoder also takes each frame's change: 6).

    Returns:
        A functional model ``(batch, size, size, 3) float32 → (batch, dense_units)``.
    """
    if head not in ("flatten", "global_average"):
        raise ValueError(f"head must be 'flatten' or 'global_average', got '{head}'")
    if pooling not in ("max", "none"):
        raise ValueError(f"pooling must be 'max' or 'none', got '{pooling}'")
    inputs = keras.Input(shape=(image_size, image_size, channels), name="pixels")
    x = inputs
    for block, num_filters in enumerate(filters):
        for index in range(convs_per_block):
            last = index == convs_per_block - 1
            strides = 2 if (pooling == "none" and last) else 1
            x = layers.Conv2D(
                num_filters,
                3,
                strides=strides,
                padding="same",
                use_bias=False,
                name=f"block{block + 1}_conv{index + 1}",
            )(x)
            x = layers.BatchNormalization(name=f"block{block + 1}_norm{index + 1}")(x)
            x = layers.ReLU(name=f"block{block + 1}_relu{index + 1}")(x)
        if pooling == "max":
            x = layers.MaxPooling2D(2, name=f"block{block + 1}_pool")(x)
    if head == "flatten":
        x = layers.Flatten(name="flatten")(x)
    else:
        x = layers.GlobalAveragePooling2D(name="global_average")(x)
    if dense_units:
        x = layers.Dropout(dropout, name="dropout")(x)
        x = layers.Dense(dense_units, activation="relu", name="features")(x)
    return keras.Model(inputs, x, name=name)


def build_image_classifier(config, num_classes: int) -> keras.Model:
    """The image classifier: uint8 RGB images of any size → class probabilities.

    ```
    images uint8 (batch, h, w, 3), any h and w
      → Resizing to (size, size), anti-aliased bilinear (as the data sources resize)
    small CNN:  → per-image standardisation → conv → pool blocks → flatten → dense     (batch, dense_units)
    backbone:   → the backbone's own scaling → keras.applications backbone (fine-tuned with its
                  BatchNorm frozen: models.backbones.set_trainable) → global average pooling   (batch, channels)
      → dropout → dense softmax                                                      (batch, classes)
    ```

    Resizing and scaling are layers of the model, so the exported graph takes raw pixels.

    Args:
        config: the model settings (``pipelines.configs.image.ImageModelConfig``, resolved: ``encoder``,
            ``image_size``, ``dropout``; for the small CNN ``filters``, ``convs_per_block``,
            ``dense_units``, ``head``, ``pooling``).
        num_classes: number of output classes.
    """
    images = keras.Input(shape=(None, None, 3), dtype="uint8", name="images")
    x = layers.Resizing(config.image_size, config.image_size, antialias=True, name="resize")(images)
    if config.encoder == "small_cnn":
        x = standardization.PerImageStandardization(name="standardize")(x)
        encoder = build_cnn_encoder(
            config.image_size,
            tuple(config.filters),
            config.convs_per_block,
            config.dense_units,
            config.dropout,
            config.head,
            config.pooling,
        )
        x = encoder(x)
    else:
        x = backbones.scale_pixels(config.encoder, x)
        x = backbones.build_backbone(config.encoder, config.image_size)(x)
        x = layers.GlobalAveragePooling2D(name="pooled")(x)
    x = layers.Dropout(config.dropout, name="head_dropout")(x)
    probabilities = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(images, probabilities, name="image_cnn" if config.encoder == "small_cnn" else "image_backbone")
