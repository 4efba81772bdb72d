"""``--encoder-weights imagenet|PATH|none``: pretrained weights for the video model's frame encoder.

- ``imagenet``: a ``keras.applications`` backbone's ImageNet weights through Keras' own download
  (cached in ``~/.keras/models/``); offline and not cached, one line within seconds naming where to
  put the file.
- ``PATH`` to a weights file (``.weights.h5``/``.h5``): the backbone's weights (what
  ``backbone.save_weights`` writes, or a ``keras.applications`` "notop" file) or, for the small
  CNN, the frame encoder's.
- ``PATH`` to an image run folder (``config.json`` + ``best.weights.h5``): the image CNN's encoder
  for the small CNN, when its layers match.

A file that does not fit the encoder is one line naming both.
"""

from __future__ import annotations

import json
import os
import pathlib

import numpy as np

from common import config as config_lib
from common import network
from common.errors import UserError
from models import cnn, frame_encoders
from pipelines.configs.image import ImageConfig

# Keras' cache names of the "notop" ImageNet files, to say where an offline copy goes.
IMAGENET_FILES = {
    "mobilenet_v3_small": "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
    "efficientnet_b0": "efficientnetb0_notop.h5",
}
# EfficientNet's weights carry the ImageNet std as the normalisation *variance*; Keras' imagenet
# model divides once more by sqrt(std). Folding that into the variance gives the same function
# on the architecture built with weights=None.
_IMAGENET_STDDEV_RGB = (0.229, 0.224, 0.225)


def keras_cache_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("KERAS_HOME", pathlib.Path.home() / ".keras")) / "models"


def load(model, config) -> str | None:
    """Copies pretrained weights into ``model``'s ``frame_encoder``; returns where they came from.

    ``config``: the model settings (``pipelines.configs.video.VideoModelConfig``)."""
    choice = (config.encoder_weights or "none").strip()
    if choice.lower() == "none":
        return None
    encoder = model.get_layer("frame_encoder")
    if choice.lower() == "imagenet":
        return _imagenet(encoder, config)
    path = pathlib.Path(choice).expanduser()
    if path.is_dir():
        return _image_run(encoder, path, config)
    if not path.is_file():
        raise UserError(f"encoder_weights '{choice}' is not imagenet, none, a weights file or an image run folder")
    target = encoder if config.encoder == "small_cnn" else encoder.get_layer("backbone")
    _load_file(target, path, config.encoder)
    return str(path)


def _load_file(target, path: pathlib.Path, encoder: str) -> None:
    """Keras refuses a file whose layers or shapes differ; that becomes one line naming both."""
    try:
        target.load_weights(str(path))
    except Exception as error:  # noqa: BLE001 - a foreign or corrupt file: say so in one line
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"encoder_weights '{path}' does not fit the {encoder} encoder: {message[:200]}") from None


def _imagenet(encoder, config) -> str:

    if config.encoder not in frame_encoders.BACKBONES:
        raise UserError(
            f"encoder_weights imagenet needs a keras.applications encoder ({', '.join(frame_encoders.BACKBONES)}); "
            f"'{config.encoder}' has none: use none or an image run folder"
        )
    cached = keras_cache_dir() / IMAGENET_FILES[config.encoder]
    if not cached.exists() and not network.downloads_reachable():
        raise UserError(
            f"the ImageNet weights of {config.encoder} are not cached and the network is unreachable: put "
            f"{IMAGENET_FILES[config.encoder]} in {cached.parent}/, or give --encoder-weights PATH or none"
        )
    try:
        pretrained = frame_encoders.build_backbone(config.encoder, config.frame_size, weights="imagenet")
    except Exception as error:  # noqa: BLE001 - download or file errors: one line
        raise UserError(
            f"could not get the ImageNet weights of {config.encoder} ({str(error).splitlines()[0][:160]}): "
            f"put {IMAGENET_FILES[config.encoder]} in {cached.parent}/ or give --encoder-weights PATH"
        ) from None
    backbone = encoder.get_layer("backbone")
    backbone.set_weights(pretrained.get_weights())
    if config.encoder.startswith("efficientnet"):
        normalization = next(layer for layer in backbone.layers if layer.__class__.__name__ == "Normalization")
        mean, variance, *rest = normalization.get_weights()
        normalization.set_weights([mean, variance * np.asarray(_IMAGENET_STDDEV_RGB, variance.dtype), *rest])
    return f"imagenet ({IMAGENET_FILES[config.encoder]})"


def _image_run(encoder, folder: pathlib.Path, config) -> str:
    """The image CNN's encoder of a trained image run, into the small-CNN frame encoder."""
    weights, config_file = folder / "best.weights.h5", folder / "config.json"
    if not weights.exists() or not config_file.exists():
        raise UserError(f"encoder_weights '{folder}' must be an image run folder with config.json and best.weights.h5")
    if config.encoder != "small_cnn":
        raise UserError(f"an image run folder fits only the small_cnn encoder, not {config.encoder}")
    image_values = json.loads(config_file.read_text())
    known = config_lib.settings(ImageConfig)
    image_config = config_lib.from_dict(ImageConfig, {k: v for k, v in image_values.items() if k in known}).model
    wanted = {
        "frame_size": image_config.image_size,
        "filters": tuple(image_config.filters),
        "convs_per_block": image_config.convs_per_block,
        "dense_units": image_config.dense_units,
    }
    mismatched = {k: v for k, v in wanted.items() if getattr(config, k) != v}
    if mismatched or image_config.head != "flatten" or image_config.pooling != "max":
        flags = " ".join(
            f"--{k.replace('_', '-')} {','.join(map(str, v)) if isinstance(v, tuple) else v}"
            for k, v in mismatched.items()
        )
        raise UserError(f"the image run's CNN differs from the video encoder; match it with: {flags}")
    image_model = cnn.build_image_classifier(image_config, len(image_values.get("class_names", [])) or 1)
    try:
        image_model.load_weights(str(weights), skip_mismatch=True)
    except Exception as error:  # noqa: BLE001 - a foreign or corrupt file: say so in one line
        raise UserError(f"cannot load {weights}: {str(error).splitlines()[0]}") from None
    encoder.set_weights(image_model.get_layer("cnn_encoder").get_weights())
    return str(weights)
