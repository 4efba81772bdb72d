"""``--encoder-weights imagenet|PATH|none``: pretrained weights for a backbone (image or video model) or the
video model's small-CNN frame encoder. Which file a choice means is decided before TensorFlow starts
(:mod:`pipelines.configs.pretrained`); here the weights are copied into a built model.

- ``imagenet``: the backbone's ImageNet file from Keras's cache (``$KERAS_HOME/models/``), loaded by path,
  which fits any input size; not cached, Keras downloads it there first.
- ``PATH`` to a weights file (``.weights.h5``/``.h5``): the backbone's weights (what
  ``backbone.save_weights`` writes, or a ``keras.applications`` "notop" file) or, for the small CNN, the
  frame encoder's.
- ``PATH`` to an image run folder (``config.json`` + ``best.weights.h5``): the image CNN's encoder
  for the small CNN, when its layers match.

A file that does not fit is one line naming both. :func:`record` says which file was used (name and
SHA-256), for the run log, metrics.json and the export's config.json.
"""

from __future__ import annotations

import json
import logging
import pathlib

import numpy as np

from common import config as config_lib
from common.errors import UserError
from models import backbones, cnn
from pipelines.configs import pretrained
from pipelines.configs.image import ImageConfig

# EfficientNet's weights carry the ImageNet std as the normalisation *variance*; Keras' imagenet
# model divides once more by sqrt(std). Folding that into the variance gives the same function
# on the architecture built with weights=None.
_IMAGENET_STDDEV_RGB = (0.229, 0.224, 0.225)


def size_of(config) -> int:
    """The model's input size: ``image_size`` (image settings) or ``frame_size`` (video settings)."""
    return config.image_size if hasattr(config, "image_size") else config.frame_size


def _backbone(model):
    """The layer named ``backbone``: in the image classifier itself, in the video model's frame encoder."""
    try:
        return model.get_layer("backbone")
    except ValueError:
        return model.get_layer("frame_encoder").get_layer("backbone")


def load(model, config) -> str | None:
    """Copies pretrained weights into ``model``'s backbone or small-CNN frame encoder; returns where
    they came from (``imagenet (FILE)`` or the path), or None for ``none``.

    ``config``: the model settings (``pipelines.configs.video.VideoModelConfig`` or
    ``pipelines.configs.image.ImageModelConfig``, resolved)."""
    choice = (config.encoder_weights or "none").strip()
    if choice.lower() == "none":
        return None
    if choice.lower() == "imagenet":
        source = _imagenet(_backbone(model), config)
        backbones.set_trainable(_backbone(model), 1.0)  # BatchNorm on its ImageNet statistics from here on
        return source
    path = pathlib.Path(choice).expanduser()
    if path.is_dir():
        return _image_run(model.get_layer("frame_encoder"), path, config)
    if not path.is_file():
        raise UserError(f"encoder_weights '{choice}' is not imagenet, none, a weights file or an image run folder")
    target = model.get_layer("frame_encoder") if config.encoder == "small_cnn" else _backbone(model)
    _load_file(target, path, config.encoder)
    if config.encoder != "small_cnn":
        backbones.set_trainable(target, 1.0)  # BatchNorm on the file's statistics from here on
    return str(path)


def record(config) -> dict | None:
    """``{"weights": imagenet|file|image run, "file": name, "sha256": digest}`` of the file a resolved
    config's weights came from (after :func:`load`), or None for ``none``."""
    choice = (config.encoder_weights or "none").strip()
    if choice.lower() == "none":
        return None
    if choice.lower() == "imagenet":
        path = pretrained.cached_imagenet_file(config.encoder, size_of(config))
        return {"weights": "imagenet", **pretrained.file_digest(path)} if path else {"weights": "imagenet"}
    path = pathlib.Path(choice).expanduser()
    if path.is_dir():
        return {"weights": "image run", **pretrained.file_digest(path / "best.weights.h5")}
    return {"weights": "file", **pretrained.file_digest(path)}


def describe(config) -> str:
    """One line for the run log: the encoder and where its weights came from."""
    found = record(config)
    if found is None:
        return f"encoder {config.encoder}, trained from scratch (no pretrained weights)"
    where = f"{found['file']}, sha256 {found['sha256'][:16]}..." if "file" in found else "downloaded"
    return f"encoder {config.encoder} with {found['weights']} weights ({where})"


def _load_file(target, path: pathlib.Path, encoder: str) -> None:
    """Keras refuses a file whose layers or shapes differ; that becomes one line naming both."""
    try:
        target.load_weights(str(path))
    except Exception as error:  # noqa: BLE001 - a foreign or corrupt file: say so in one line
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"encoder_weights '{path}' does not fit the {encoder} encoder: {message[:200]}") from None


def _imagenet(backbone, config) -> str:
    """The cached ImageNet file (Keras downloads it first when it is not cached), loaded by path."""
    encoder, size = config.encoder, size_of(config)
    if encoder not in backbones.BACKBONES:
        raise UserError(
            f"encoder_weights imagenet needs a keras.applications encoder ({', '.join(backbones.BACKBONES)}); "
            f"'{encoder}' has none: use none or an image run folder"
        )
    path = pretrained.cached_imagenet_file(encoder, size)
    if path is None:
        if not pretrained.imagenet_available(encoder, size):
            raise UserError(
                f"the ImageNet weights of {encoder} are not cached and the network is unreachable: "
                f"{pretrained.where_to_put(encoder)}, or give --encoder-weights PATH or none"
            )
        try:  # Keras's own download into its cache, at the size it names files by
            backbones.build_backbone(encoder, backbones.BACKBONES[encoder].default_size, weights="imagenet")
        except Exception as error:  # noqa: BLE001 - download or file errors: one line
            raise UserError(
                f"could not get the ImageNet weights of {encoder} ({str(error).splitlines()[0][:160]}): "
                f"{pretrained.where_to_put(encoder)}, or give --encoder-weights PATH"
            ) from None
        path = pretrained.cached_imagenet_file(encoder, size)
    _load_file(backbone, path, encoder)
    if encoder.startswith("efficientnet"):
        normalization = next(layer for layer in backbone.layers if layer.__class__.__name__ == "Normalization")
        mean, variance, *rest = normalization.get_weights()
        normalization.set_weights([mean, variance * np.asarray(_IMAGENET_STDDEV_RGB, variance.dtype), *rest])
    logging.info("ImageNet weights of %s from %s", encoder, path)
    return f"imagenet ({path.name})"


def _image_run(encoder, folder: pathlib.Path, config) -> str:
    """The image CNN's encoder of a trained image run, into the small-CNN frame encoder."""
    weights, config_file = folder / "best.weights.h5", folder / "config.json"
    if not weights.exists() or not config_file.exists():
        raise UserError(f"encoder_weights '{folder}' must be an image run folder with config.json and best.weights.h5")
    if config.encoder != "small_cnn":
        raise UserError(f"an image run folder fits only the small_cnn encoder, not {config.encoder}")
    image_values = {"encoder": "small_cnn", "encoder_weights": "none", **json.loads(config_file.read_text())}
    known = config_lib.settings(ImageConfig)
    image_config = config_lib.from_dict(ImageConfig, {k: v for k, v in image_values.items() if k in known}).model
    if image_config.encoder != "small_cnn":
        raise UserError(f"encoder_weights '{folder}' is a {image_config.encoder} image run; only small-CNN runs fit")
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
