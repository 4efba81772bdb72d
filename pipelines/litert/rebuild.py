"""The trained Keras model of an export, rebuilt: what needs its layers (Grad-CAM, the LiteRT conversion).

A SavedModel's signatures are traced graphs; they do not expose the layers. The export's
``assets.extra/config.json`` holds the resolved settings, so the model is built again from them
(``models.cnn`` for ``image``, ``models.video_cnn_rnn`` for ``video``, without cuDNN) and each of its
weights is assigned from the SavedModel's variable of the same name (same-named variables in the
order the export wrote them; shapes checked): the rebuilt model computes what the export computes.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Any

from common import config as config_lib
from common import quiet
from common.errors import UserError
from pipelines.configs.image import ImageConfig
from pipelines.configs.video import VideoConfig

KINDS = ("video", "image")  # the exports whose models can be rebuilt


@dataclasses.dataclass
class Rebuilt:
    """A rebuilt model, the typed settings it was built from, and its export."""

    model: Any  # keras.Model
    config: Any  # pipelines.configs.video.VideoConfig or pipelines.configs.image.ImageConfig
    class_names: list[str]
    loaded: Any  # the SavedModel, as tf.saved_model.load returns it
    version_dir: pathlib.Path


def read_settings(version_dir: pathlib.Path) -> dict[str, Any]:
    """``assets.extra/config.json`` of an export."""
    path = pathlib.Path(version_dir) / "assets.extra" / "config.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UserError(f"{path} cannot be read ({error}); re-export the model") from None


def class_names_of(version_dir: pathlib.Path) -> list[str]:
    """The class list the export writes to ``assets.extra/classes.txt``."""
    path = pathlib.Path(version_dir) / "assets.extra" / "classes.txt"
    try:
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line]
    except OSError:
        raise UserError(f"{path} is missing; re-export the model") from None


def typed_config(kind: str, settings: dict[str, Any]):
    """The pipeline config a ``config.json`` describes; keys of no setting (notes an export adds) are left out."""
    config_class = VideoConfig if kind == "video" else ImageConfig
    known = set(config_lib.field_names(config_class))
    values = {key: value for key, value in settings.items() if key in known}
    if kind == "image":
        values = {"encoder": "small_cnn", **values}  # exports from before backbones were small CNNs
    return config_lib.from_dict(config_class, values)


def assign_from(model, loaded, version_dir: pathlib.Path) -> None:
    """Gives every weight of ``model`` the value of the SavedModel variable of the same name."""
    saved: dict[str, list] = {}
    for variable in loaded.variables:
        saved.setdefault(variable.name.rsplit(":", 1)[0], []).append(variable)
    for weight in model.weights:
        candidates = saved.get(weight.path) or []
        if not candidates or tuple(candidates[0].shape) != tuple(weight.shape):
            raise UserError(
                f"{version_dir}: the SavedModel has no variable {weight.path} of shape {tuple(weight.shape)} "
                "that its config.json describes; re-export the model"
            )
        weight.assign(candidates.pop(0))


def rebuild(version_dir: str | pathlib.Path, kind: str, loaded=None) -> Rebuilt:
    """The export's Keras model with its trained weights.

    Args:
        version_dir: ``export/<name>/<version>``.
        kind: ``video`` or ``image``: which builder the config is for.
        loaded: the SavedModel, when the caller has loaded it already.

    Raises:
        UserError: a stand-in (stub) export, or a config and variables that do not fit together.
    """
    version_dir = pathlib.Path(version_dir)
    settings = read_settings(version_dir)
    if settings.get("stub"):
        raise UserError(f"{version_dir} is a stand-in model without trained layers; train one (make train-{kind})")
    config = typed_config(kind, settings)
    class_names = class_names_of(version_dir)
    quiet.import_tensorflow()
    import tensorflow as tf  # deferred: bad input is refused before TensorFlow loads

    if kind == "video":
        from models import video_cnn_rnn  # deferred, as TensorFlow above: Keras

        model = video_cnn_rnn.build_video_cnn_rnn(config.model, len(class_names), use_cudnn=False)
    else:
        from models import cnn  # deferred: Keras

        model = cnn.build_image_classifier(config.model, len(class_names))
    loaded = loaded if loaded is not None else tf.saved_model.load(str(version_dir))
    assign_from(model, loaded, version_dir)
    return Rebuilt(model, config, class_names, loaded, version_dir)
