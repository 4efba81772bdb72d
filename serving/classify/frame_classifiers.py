"""Per-frame classifiers over an exported model, in-process or through TF Serving's REST API.

Every classifier takes consecutive frames in batches, ``(n, size, size, 3)`` RGB uint8, and returns
``(n, classes)`` float32 probabilities; it is called on the frames of one video in order, once per
batch, never once per frame.

- ``video`` model: the ``stream`` signature, carrying the recurrent state (every input other than
  ``frames``: ``state_0``, ``state_1``, ...; zeros to start, shapes from the signature) from one
  batch to the next, so a whole file is one causal pass with no window restarts.
- ``image`` model: ``serving_default`` on each frame alone.

In-process classifiers call the SavedModel's concrete signature functions (already-traced graphs);
the REST classifier sends the same requests to a server (``serving.rest.client``).
"""

from __future__ import annotations

import json
import pathlib
import re
import sys

import numpy as np

from common import quiet
from common.errors import UserError
from serving.export import layout
from serving.rest import client as rest_client

MODEL_NAMES = ("video", "image")


def _state_order(name: str) -> tuple[int, str]:
    match = re.search(r"(\d+)$", name)
    return (int(match.group(1)) if match else 0, name)


def image_size_from_config(version_dir: pathlib.Path) -> int | None:
    """The model's input side from its export's ``assets.extra/config.json`` (None if absent)."""
    path = pathlib.Path(version_dir) / "assets.extra" / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for key in ("image_size", "frame_size"):
        if isinstance(config.get(key), int):
            return int(config[key])
    return None


def limit_tensorflow_threads(threads: int) -> None:
    """Runs TensorFlow's kernels on ``threads`` threads (0: leave TensorFlow's default, one per core).

    Batched inference of these small models takes ~0.13 ms (video) and ~0.23 ms (image) of one core
    per frame on one thread: less CPU than on TensorFlow's default pool of one thread per core, which
    spends the difference synchronising, and it leaves the other cores to the decoder and the
    annotated-video encoder, the real bottlenecks. Has no effect once TensorFlow has started.
    """
    quiet.import_tensorflow()
    if threads <= 0:
        return
    import tensorflow as tf  # deferred: bad input is refused before TensorFlow loads

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow already started in this process (e.g. a second call): keep its pools
        pass


def find_version_dir(model_name: str, export_root: str | pathlib.Path, version: int | None = None) -> pathlib.Path:
    """The export's version folder: ``version``, or the latest; a ``UserError`` that says what to do when absent."""
    if model_name not in MODEL_NAMES:
        raise UserError(f"--model must be one of {', '.join(MODEL_NAMES)}, got '{model_name}'")
    if version is not None:
        version_dir = pathlib.Path(export_root) / model_name / str(version)
        if version in layout.versions(version_dir.parent):
            return version_dir
        raise UserError(f"{version_dir} is not a complete export (no saved_model.pb)")
    version_dir = layout.latest_version_dir(export_root, model_name)
    if version_dir is None:
        raise UserError(
            f"no {model_name} model exported under {export_root}/ yet; run `make train-{model_name}` "
            "first (or point --export-dir at an export root)"
        )
    return version_dir


class LocalClassifier:
    """Runs the latest export of ``video`` or ``image`` under ``export_root`` in this process.

    ``threads``: TensorFlow threads (``limit_tensorflow_threads``; 0 keeps TensorFlow's default).
    ``version``: that version instead of the latest (the library job's workers all load the version
    its launcher found, even if a newer one is published while it runs).

    Raises:
        UserError: no such model (or version) has been exported yet, or it lacks the needed signature.
    """

    def __init__(
        self, model_name: str, export_root: str | pathlib.Path = "export", threads: int = 0, version: int | None = None
    ):
        version_dir = find_version_dir(model_name, export_root, version)
        limit_tensorflow_threads(threads)  # deferred: bad-input errors come back before TensorFlow loads
        import tensorflow as tf  # deferred, as above

        self._tf = tf
        self.model_name = model_name
        self.version = int(version_dir.name)
        self.location = str(version_dir.resolve())
        try:
            self._model = tf.saved_model.load(str(version_dir))
        except Exception as error:  # noqa: BLE001 - a damaged export fails in many ways (DecodeError, OpError, ...)
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise UserError(f"cannot load the {model_name} model from {version_dir}: {reason}") from None
        signature_name = "stream" if model_name == "video" else "serving_default"
        if signature_name not in self._model.signatures:
            raise UserError(f"{version_dir} has no '{signature_name}' signature; re-export the {model_name} model")
        self._function = self._model.signatures[signature_name]
        self.class_names = self._read_class_names(version_dir)
        _, input_specs = self._function.structured_input_signature
        self.image_size = image_size_from_config(version_dir)
        self._initial_state: dict[str, np.ndarray] = {}
        if model_name == "video":
            for name in sorted((n for n in input_specs if n != "frames"), key=_state_order):
                spec = input_specs[name]
                units = spec.shape[-1]
                if units is None:
                    raise UserError(f"{version_dir}: the stream signature's {name} has no static size")
                self._initial_state[name] = np.zeros([1, units], spec.dtype.as_numpy_dtype)
        self.reset()

    def _read_class_names(self, version_dir: pathlib.Path) -> list[str]:
        if "classes" in self._model.signatures:
            names = self._model.signatures["classes"](query=self._tf.constant([""]))["classes"].numpy()[0]
            return [name.decode("utf-8") for name in names]
        path = version_dir / "assets.extra" / "classes.txt"
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line]

    def reset(self) -> None:
        """Back to the start of a video (zero state)."""
        self._state = {name: self._tf.constant(value) for name, value in self._initial_state.items()}

    def describe(self) -> dict:
        return {"name": self.model_name, "version": self.version, "path": self.location}

    def warm_up(self, batch_size: int) -> None:
        """One call on black frames, then back to the start: the first call of a loaded SavedModel
        sets up its graph (~0.1 s), which would otherwise be counted against the first batch."""
        if self.image_size:
            self(np.zeros([batch_size, self.image_size, self.image_size, 3], np.uint8))
        self.reset()

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        tf = self._tf
        if self.model_name == "image":
            return self._function(images=tf.constant(pixels))["probabilities"].numpy()
        outputs = self._function(frames=tf.constant(pixels[np.newaxis]), **self._state)
        self._state = {name: outputs[name] for name in self._state}
        return outputs["probabilities"].numpy()[0]  # (time, classes)


class RestClassifier:
    """Sends the frames to TF Serving (or ``make serve``'s development server) over REST.

    Args:
        model_name: ``video`` (the ``stream`` signature, state carried between requests) or ``image``.
        server_url: e.g. ``http://127.0.0.1:8501``.
        encoding: ``png`` (default: lossless, answers equal to in-process ones), ``jpeg`` (smaller, lossy;
            both as ``{"b64": ...}``) or ``raw`` (uint8 lists). PNG and JPEG need a signature that takes
            bytes: ``encoded`` for the image model; for the video model a stream signature with a
            ``frame_bytes`` input (``stream_encoded``). When the video export has none, frames are sent
            raw, with a note on stderr.
        export_root: a local export of the same model, read only for its ``image_size``.
        image_size: overrides the input side (needed when it cannot be found locally or in metadata).
    """

    def __init__(
        self,
        model_name: str,
        server_url: str,
        encoding: str = "png",
        export_root: str | pathlib.Path = "export",
        image_size: int | None = None,
        timeout: float = 60.0,
    ):

        if model_name not in MODEL_NAMES:
            raise UserError(f"--model must be one of {', '.join(MODEL_NAMES)}, got '{model_name}'")
        if encoding not in rest_client.ENCODINGS:
            raise UserError(f"--encoding must be one of {', '.join(rest_client.ENCODINGS)}, got '{encoding}'")
        self.model_name = model_name
        self.server_url = server_url
        try:
            self._client = rest_client.Client(server_url, timeout=timeout)
            self.version = self._client.latest_version(model_name)
            self.class_names = self._client.class_names(model_name)
            signature_defs = self._client.metadata(model_name)["metadata"]["signature_def"]["signature_def"]
        except (ValueError, ConnectionError, OSError, rest_client.ModelServerError, KeyError) as error:
            raise UserError(f"cannot use model '{model_name}' at {server_url}: {error}") from None
        self._errors = (ConnectionError, OSError, rest_client.ModelServerError)
        self.signature_name, self.input_name = "serving_default", "images"
        self.encoding = encoding
        if model_name == "video":
            self.signature_name, self.input_name = "stream", "frames"
            if encoding != "raw":
                encoded_stream = next(
                    (
                        name
                        for name, sig in signature_defs.items()
                        if "frame_bytes" in sig["inputs"] and any(key.startswith("state") for key in sig["inputs"])
                    ),
                    None,
                )
                if encoded_stream:
                    self.signature_name, self.input_name = encoded_stream, "frame_bytes"
                else:
                    print(
                        "note: the video model's stream signature takes raw frames only; sending raw uint8",
                        file=sys.stderr,
                    )
                    self.encoding = "raw"
        elif encoding != "raw":
            self.signature_name, self.input_name = "encoded", "image_bytes"
        if self.signature_name not in signature_defs:
            raise UserError(f"model '{model_name}' at {server_url} has no '{self.signature_name}' signature")
        inputs = signature_defs[self.signature_name]["inputs"]
        self._initial_state = {}
        for name in sorted((n for n in inputs if n != self.input_name), key=_state_order):
            dims = [int(dim["size"]) for dim in inputs[name]["tensor_shape"].get("dim", [])]
            if not dims or dims[-1] < 0:
                raise UserError(f"the server's {self.signature_name} input {name} has no static size")
            self._initial_state[name] = np.zeros([1, dims[-1]], np.float32)
        self.image_size = image_size
        if self.image_size is None:
            local = layout.latest_version_dir(export_root, model_name)
            self.image_size = image_size_from_config(local) if local else None
        if self.image_size is None:
            raise UserError(
                f"cannot tell the {model_name} model's input size from the server; pass --image-size N "
                "(the image_size in the export's assets.extra/config.json)"
            )
        self.reset()

    def reset(self) -> None:
        self._state = {name: value.copy() for name, value in self._initial_state.items()}

    def describe(self) -> dict:
        return {"name": self.model_name, "version": self.version, "server": self.server_url}

    def warm_up(self, batch_size: int) -> None:
        """Nothing to do here: the server warms its own models up (``assets.extra/tf_serving_warmup_requests``)."""

    def encode(self, pixels: np.ndarray) -> np.ndarray:
        """The request's frames (PNG/JPEG bytes, or the pixels for raw): ``classify`` sends them.
        Split from it so that the next batch can be encoded while the server answers this one."""

        return rest_client.encode_images(pixels, self.encoding)

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        return self.classify(self.encode(pixels))

    def classify(self, data: np.ndarray) -> np.ndarray:
        """Probabilities for frames from ``encode`` (the video model's state carried on)."""
        inputs = {self.input_name: data if self.model_name == "image" else data[np.newaxis], **self._state}
        try:
            outputs = self._client.predict(self.model_name, inputs, signature_name=self.signature_name)
        except self._errors as error:
            raise UserError(f"request to {self.server_url} failed: {error}") from None
        if self.model_name == "image":
            return outputs["probabilities"].astype(np.float32)
        self._state = {name: np.asarray(outputs[name], np.float32) for name in self._state}
        return outputs["probabilities"].astype(np.float32)[0]
