"""Where a backbone's pretrained weights come from, checked before TensorFlow starts.

- ``imagenet``: Keras's cache (``$KERAS_HOME/models/``, by default ``~/.keras/models/``) under the file
  name Keras itself downloads; Keras names its files by input size, and when only the 224-px file is
  there it is loaded by path, which fits any input size (the convolution weights do not depend on it).
  Otherwise Keras downloads it, when the download host answers within seconds.
- ``PATH``: a weights file. A Keras "no top" file tells its architecture and width by its first
  convolution, so a file of another backbone is refused here, in one line naming the one it fits.
- ``auto`` (the image and video pipelines' default for folders and ``tfds:``): MobileNetV2 with ImageNet
  weights when they are cached or downloadable, else the small CNN, with one warning saying how to get them.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import pathlib

from common import network
from common.errors import UserError
from models import backbones

# The backbone "auto" picks: the most accurate of the CPU backbones on the project's photo measurements.
AUTO_BACKBONE = "mobilenet_v2"
# What "auto" gives video folders and tfds: what the README's real-footage measurements support.
AUTO_VIDEO_ENCODER = "small_cnn"
AUTO_VIDEO_REASON = (
    "on weizmann4, actors never seen, the small CNN on grey 16x16 frames and their differences scores 0.95 "
    "per video, frozen ImageNet MobileNetV2 features 0.90 (README, 'Video on real footage')"
)


def keras_cache_dir() -> pathlib.Path:
    """Keras's weights cache: ``$KERAS_HOME/models`` (default ``~/.keras/models``)."""
    return pathlib.Path(os.environ.get("KERAS_HOME", pathlib.Path.home() / ".keras")) / "models"


def cached_imagenet_file(encoder: str, size: int) -> pathlib.Path | None:
    """The cached ImageNet file of ``encoder`` for ``size``, else its 224-px one, else None."""
    backbone = backbones.BACKBONES[encoder]
    for name in dict.fromkeys((backbone.imagenet_file(size), backbone.imagenet_file(backbone.default_size))):
        path = keras_cache_dir() / name
        if path.is_file():
            return path
    return None


@functools.cache
def _downloads_reachable() -> bool:
    return network.downloads_reachable()


def imagenet_available(encoder: str, size: int) -> bool:
    """Whether ``weights="imagenet"`` can be had now: cached, or the download host answers (asked once)."""
    return cached_imagenet_file(encoder, size) is not None or _downloads_reachable()


def where_to_put(encoder: str) -> str:
    """How to get the ImageNet weights onto a machine without a network, in a few words (the file at the
    size Keras downloads, which fits every input size here)."""
    backbone = backbones.BACKBONES[encoder]
    file = backbone.imagenet_file(backbone.default_size)
    return f"put {file} in {keras_cache_dir()}/ (Keras downloads it there on a machine with a network)"


@functools.cache
def choose_auto_encoder(dataset: str, size: int) -> tuple[str, str]:
    """``--encoder auto``: (encoder, weights). The embedded datasets keep the small CNN; folders and
    ``tfds:`` data get :data:`AUTO_BACKBONE` with ImageNet weights when they can be had, else the small
    CNN and one warning (once per process) saying how to get them."""
    if not dataset:
        return "small_cnn", "none"
    if imagenet_available(AUTO_BACKBONE, size):
        return AUTO_BACKBONE, "imagenet"
    logging.warning(
        "no ImageNet weights for %s (not cached, no network): training the small CNN from scratch instead; "
        "%s, or give --encoder-weights PATH",
        AUTO_BACKBONE,
        where_to_put(AUTO_BACKBONE),
    )
    return "small_cnn", "none"


@functools.cache
def _video_auto_said(dataset: str) -> None:
    logging.info("encoder auto: %s for video (%s)", AUTO_VIDEO_ENCODER, AUTO_VIDEO_REASON)


def resolve_encoder(encoder: str, weights: str, dataset: str, size: int, video: bool = False) -> tuple[str, str]:
    """(encoder, weights) with ``auto`` resolved, for the image and video configs.

    ``--encoder auto``: for video folders and tfds with ``--encoder-weights auto``,
    :data:`AUTO_VIDEO_ENCODER` (logged once, with the measurement that chose it); with ``auto`` (images),
    :func:`choose_auto_encoder`; with ``imagenet``, :data:`AUTO_BACKBONE` (:func:`check` refuses it
    when its weights cannot be had); with
    a weights file, the backbone the file fits, else the small CNN (an image run folder, a small CNN's
    file); with ``none``, the small CNN (an untrained backbone is the small CNN's job done slower).
    ``--encoder-weights auto``: ImageNet for a backbone, none for the small CNN.
    """
    choice = weights.strip()
    if encoder == "auto" and video and choice.lower() == "auto":
        if dataset:
            _video_auto_said(dataset)
        encoder = AUTO_VIDEO_ENCODER if dataset else "small_cnn"
    if encoder == "auto":
        if choice.lower() == "imagenet":  # asked for: check() refuses it when it cannot be had
            encoder = AUTO_BACKBONE
        elif choice.lower() == "auto":
            encoder, choice = choose_auto_encoder(dataset, size)
        elif choice.lower() == "none":
            encoder = "small_cnn"
        else:
            path = pathlib.Path(choice).expanduser()
            encoder = (fitting_backbone(path) if path.is_file() else None) or "small_cnn"
    if choice.lower() == "auto":
        choice = "imagenet" if encoder in backbones.BACKBONES else "none"
    return encoder, choice


def describe_weights_file(path: pathlib.Path) -> tuple[str, int] | None:
    """(first convolution's layer name, its output channels) of a Keras "no top" ``.h5`` file; None for
    other files (a Keras 3 ``.weights.h5`` names its layers generically; Keras checks those when loading)."""
    import h5py  # deferred: a few milliseconds, needed only for a weights file

    try:
        with h5py.File(path, "r") as file:
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in file.attrs.get("layer_names", [])]
            for name in names:
                group = file[name]
                weights = [w.decode() if isinstance(w, bytes) else str(w) for w in group.attrs.get("weight_names", [])]
                kernels = [w for w in weights if w.endswith("kernel") or w.endswith("kernel:0")]
                if kernels:
                    return name, int(group[kernels[0]].shape[-1])
    except (OSError, KeyError, ValueError):
        return None
    return None


def fitting_backbone(path: pathlib.Path) -> str | None:
    """The backbone (as ``--encoder`` names it) whose first convolution a "no top" file matches, if any."""
    described = describe_weights_file(path)
    if described is None:
        return None
    return next((b.name for b in backbones.BACKBONES.values() if (b.first_layer, b.first_filters) == described), None)


def check(encoder: str, weights: str, size: int, asked) -> None:
    """Refuses, before TensorFlow starts, weights that cannot be had or do not fit ``encoder``.

    Args:
        encoder, weights, size: the resolved encoder (a backbone name or ``small_cnn``), weights
            (``imagenet``, ``none`` or a path) and input size.
        asked: the model settings as given (``encoder``, ``encoder_weights``, ``auto`` unresolved). A
            backbone asked for (by name, or ``auto`` with ``imagenet``) whose weights cannot be had is
            refused; ``auto`` alone falls back to the small CNN instead.

    Raises:
        UserError: ``imagenet`` for the small CNN, or not cached and not downloadable for a backbone
            asked for; a path that does not exist; a "no top" file of another backbone or width.
    """
    explicit = asked.encoder != "auto" or asked.encoder_weights.strip().lower() == "imagenet"
    choice = weights.strip()
    if choice.lower() == "none":
        return
    if choice.lower() == "imagenet":
        if encoder not in backbones.BACKBONES:
            raise UserError(
                f"encoder_weights imagenet needs a keras.applications encoder ({', '.join(backbones.BACKBONES)}); "
                f"'{encoder}' has none: use none, or a weights file"
            )
        if explicit and not imagenet_available(encoder, size):
            raise UserError(
                f"the ImageNet weights of {encoder} are not cached and the network is unreachable: "
                f"{where_to_put(encoder)}, or give --encoder-weights PATH or none"
            )
        return
    path = pathlib.Path(choice).expanduser()
    if not path.exists():
        raise UserError(f"encoder_weights '{choice}' is not imagenet, none, a weights file or an image run folder")
    if path.is_file() and encoder in backbones.BACKBONES:
        fits = fitting_backbone(path)
        described = describe_weights_file(path)
        if described is not None and fits != encoder:
            what = f"--encoder {fits}" if fits else f"a backbone whose first layer is {described[0]}"
            raise UserError(
                f"encoder_weights '{choice}' does not fit the {encoder} encoder (its first layer "
                f"{described[0]} has {described[1]} filters, {encoder}'s "
                f"{backbones.BACKBONES[encoder].first_layer} {backbones.BACKBONES[encoder].first_filters}): "
                f"it fits {what}"
            )


def file_digest(path: pathlib.Path) -> dict[str, str]:
    """``{"file": name, "sha256": hex digest}`` of a weights file, for the run log, metrics.json and the export."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return {"file": pathlib.Path(path).name, "sha256": digest.hexdigest()}
