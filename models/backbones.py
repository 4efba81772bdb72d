"""The ``keras.applications`` backbones the image and video models can stand on, in one place.

```
pixels 0..255 (batch, size, size, 3)
  → the backbone's own input scaling (MobileNet v1/v2: x / 127.5 - 1; MobileNetV3, EfficientNet: inside)
  → keras.applications model without its top, named "backbone"      (batch, size/32, size/32, channels)
```

Backbones are always built with ``weights=None`` here, so a model's architecture follows from its
config alone (an export rebuilds it without any download); pretrained weights are copied in afterwards
(``pipelines.training.encoder_weights``). Which ones: those that run at interactive speed on a CPU
(MobileNetV2 1.0 at 224 px: about 100 photos/s forward on 2 cores).

The registry below needs no TensorFlow (the configs check a choice before TensorFlow starts); Keras is
imported inside the builders.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Backbone:
    """One ``keras.applications`` backbone and what the project needs to know about it."""

    name: str  # the --encoder value
    constructor: str  # the keras.applications function
    alpha: float | None  # width multiplier (MobileNet v1/v2), None where the constructor has none
    default_size: int  # the input size its ImageNet weights were trained at
    smallest: int  # the smallest input size it takes
    frame_size: int  # a frame size that suits video on a CPU
    scaling: str  # "unit": the model expects -1..1; "inside": it takes 0..255 and scales itself
    first_layer: str  # the name of its first convolution in Keras's weight files (to tell a file's architecture)
    first_filters: int  # that convolution's output channels at this width

    def imagenet_file(self, size: int) -> str:
        """The file name Keras caches the no-top ImageNet weights under, for input ``size``."""
        if self.constructor == "MobileNetV2":
            rows = size if size in (96, 128, 160, 192, 224) else 224
            return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{self.alpha:.1f}_{rows}_no_top.h5"
        if self.constructor == "MobileNet":
            rows = size if size in (128, 160, 192, 224) else 224
            alpha = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}[self.alpha]
            return f"mobilenet_{alpha}_{rows}_tf_no_top.h5"
        if self.constructor == "MobileNetV3Small":
            return "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5"
        return "efficientnetb0_notop.h5"


BACKBONES = {
    backbone.name: backbone
    for backbone in (
        Backbone("mobilenet_v2", "MobileNetV2", 1.0, 224, 32, 96, "unit", "Conv1", 32),
        Backbone("mobilenet_0.25", "MobileNet", 0.25, 224, 32, 96, "unit", "conv1", 8),
        Backbone("mobilenet_v3_small", "MobileNetV3Small", None, 224, 32, 96, "inside", "conv", 16),
        Backbone("efficientnet_b0", "EfficientNetB0", None, 224, 32, 96, "inside", "stem_conv", 32),
    )
}


def build_backbone(name: str, size: int, weights: str | None = None):
    """The ``keras.applications`` model without its top, named ``backbone``: (size, size, 3) → its feature map.

    Args:
        name: a key of :data:`BACKBONES`.
        size: input height and width.
        weights: passed to the constructor: None (random), ``"imagenet"`` (Keras's cache or a download)
            or a weights file.
    """
    import keras  # deferred: the registry above is read before TensorFlow starts

    backbone = BACKBONES[name]
    arguments = dict(include_top=False, weights=weights, input_shape=(size, size, 3))
    if backbone.alpha is not None:
        arguments["alpha"] = backbone.alpha
    if backbone.constructor == "MobileNetV3Small":
        arguments["include_preprocessing"] = True
    model = getattr(keras.applications, backbone.constructor)(**arguments)
    model.name = "backbone"
    return model


def set_trainable(backbone, fraction: float) -> int:
    """Makes the top ``fraction`` of ``backbone``'s layers trainable and the rest frozen, every
    BatchNormalization layer frozen; returns how many layers train.

    A pretrained backbone is fine-tuned with its BatchNorm layers in inference mode, on their ImageNet
    statistics: batch statistics of a small dataset would wreck them. In Keras 3 a BatchNormalization
    layer runs in inference mode when it is not trainable, whatever the ``training`` flag of the call
    (calling the backbone with ``training=False`` is not enough: the outer model's flag reaches it, and
    Keras 3.15 even runs a backbone behind a ``Resizing`` layer in training mode on a call that gives no
    flag at all).
    """
    from keras import layers  # deferred, as in build_backbone

    backbone.trainable = True
    cut = len(backbone.layers) - round(len(backbone.layers) * fraction)
    for index, layer in enumerate(backbone.layers):
        layer.trainable = index >= cut and not isinstance(layer, layers.BatchNormalization)
    return sum(layer.trainable for layer in backbone.layers if layer.weights)


def scale_pixels(name: str, pixels):
    """Pixels 0..255 (float) as the backbone's ImageNet weights expect them."""
    from keras import layers  # deferred, as in build_backbone

    if BACKBONES[name].scaling == "unit":
        return layers.Rescaling(1 / 127.5, offset=-1.0, name="backbone_scaling")(pixels)
    return pixels
