"""``--runtime litert``: classify with the ``.tflite`` files of ``make export-lite``, as a device would.

:class:`LiteRTClassifier` has the interface of ``frame_classifiers.LocalClassifier`` (consecutive
frames in batches, ``(n, size, size, 3)`` RGB uint8 at the model's size → ``(n, classes)``), so
classify-video's loop, its folder mode and classify-image use it unchanged. Inside, the device model
runs one frame (or photo) at a time: the video step carries its states from frame to frame, zeros at
the start of each video, so a whole file is one causal pass, as with the SavedModel's ``stream``.
"""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np

from common.errors import UserError
from serving.export import layout, litert_convert, litert_model

RUNTIMES = ("savedmodel", "litert")


def find_lite_model(model_name: str, export_root: str | pathlib.Path, precision: str) -> tuple[pathlib.Path, dict]:
    """The latest LiteRT file of ``model_name`` at ``precision`` and its version's metadata.

    Raises:
        UserError: no such file, with the command that makes it.
    """
    if precision not in litert_convert.PRECISIONS:
        raise UserError(f"--precision must be one of {', '.join(litert_convert.PRECISIONS)}, got '{precision}'")
    version_dir = layout.latest_lite_version_dir(export_root, model_name)
    path = version_dir / litert_convert.file_name(precision) if version_dir else None
    if path is None or not path.is_file():
        where = path or layout.lite_dir(export_root, model_name)
        raise UserError(
            f"--runtime litert: no {litert_convert.file_name(precision)} under {where}; "
            f"run `make export-lite MODEL={model_name}` first (it converts export/{model_name}/)"
        )
    metadata = json.loads((version_dir / layout.LITE_COMPLETE).read_text(encoding="utf-8"))
    latest = layout.latest_version_dir(export_root, model_name)
    if latest is not None and int(latest.name) > metadata["source"]["version"]:
        print(
            f"note: {version_dir} was converted from {model_name} v{metadata['source']['version']}; "
            f"v{latest.name} is newer (make export-lite MODEL={model_name} converts it)",
            file=sys.stderr,
        )
    return path, metadata


class LiteRTClassifier:
    """The LiteRT form of ``video`` (the one-frame step) or ``image`` under ``export_root``.

    Args:
        model_name: ``video`` or ``image``.
        export_root: the export base directory (``export/<name>_lite/<version>/`` is read).
        precision: ``float32``, ``float16`` or ``int8``.
        threads: LiteRT CPU threads (0: the runtime's default).
    """

    def __init__(
        self, model_name: str, export_root: str | pathlib.Path = "export", precision: str = "float32", threads: int = 1
    ):
        path, metadata = find_lite_model(model_name, export_root, precision)
        self.model_name, self.precision, self.location = model_name, precision, str(path.resolve())
        self.version = int(metadata["source"]["version"])
        self.class_names = list(metadata["classes"])
        self.input_name = metadata["input"]["name"]
        self.image_size = int(metadata["input"]["shape"][1])
        self._model = litert_model.LiteModel(path, threads)
        self._initial_state = {state["name"]: np.zeros(state["shape"], np.float32) for state in metadata["states"]}
        self.reset()

    def reset(self) -> None:
        """Back to the start of a video (zero states)."""
        self._state = dict(self._initial_state)

    def describe(self) -> dict:
        return {
            "name": self.model_name,
            "version": self.version,
            "path": self.location,
            "runtime": "litert",
            "precision": self.precision,
        }

    def warm_up(self, batch_size: int) -> None:
        """Nothing to set up beyond the first call, which opening the file made already."""

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        """(n, size, size, 3) uint8 consecutive frames → (n, classes), one call of the device model each."""
        if pixels.shape[1:3] != (self.image_size, self.image_size):
            raise UserError(
                f"the LiteRT model takes {self.image_size}x{self.image_size} frames, got {pixels.shape[1:3]}"
            )
        rows = []
        for frame in pixels:
            outputs = self._model(**{self.input_name: frame[np.newaxis]}, **self._state)
            self._state = {name: outputs[name] for name in self._state}
            rows.append(outputs["probabilities"][0])
        return np.stack(rows).astype(np.float32)
