"""The SavedModels the development server serves: the latest complete version of each model, hot-swapped.

Models are the sub-folders of the export root that hold at least one complete numeric version
(`<root>/<name>/<version>/saved_model.pb`). A background thread polls the export root, loads a newly
published version completely (including its warm-up requests) and then swaps it in.
"""

import dataclasses
import os
import re
import sys
import threading
import time

import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.protobuf import saved_model_pb2

from serving.rest.rest_codec import ServingError

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_VERSION_NAME = re.compile(r"[0-9]+")

# Loaded models


@dataclasses.dataclass
class ServableVersion:
    """One loaded SavedModel version.

    Attributes:
        name: Model name (the folder under the export root).
        version: Version number (the numeric sub-folder).
        path: The SavedModel directory.
        signatures: Callable signatures (concrete functions) by signature key.
        input_dtypes: For each signature, the dtype of each input, by input name.
        metadata_json: The `signature_def` map as TF Serving's metadata API prints it.
    """

    name: str
    version: int
    path: str
    signatures: dict
    input_dtypes: dict[str, dict[str, tf.DType]]
    metadata_json: dict
    loaded: object = None

    @classmethod
    def load(cls, name: str, version: int, path: str) -> "ServableVersion":
        """Loads a SavedModel with `tf.saved_model.load` and replays its warm-up requests, if any."""
        saved_model = saved_model_pb2.SavedModel()
        with open(os.path.join(path, "saved_model.pb"), "rb") as file:
            saved_model.ParseFromString(file.read())
        meta_graphs = [graph for graph in saved_model.meta_graphs if "serve" in graph.meta_info_def.tags]
        if not meta_graphs:
            raise ValueError(f"{path} has no MetaGraph tagged 'serve'; export it with keras' ExportArchive.")
        signature_defs = meta_graphs[0].signature_def
        loaded = tf.saved_model.load(path)
        signatures = dict(loaded.signatures)
        input_dtypes = {
            key: {input_name: tf.as_dtype(info.dtype) for input_name, info in signature_defs[key].inputs.items()}
            for key in signatures
            if key in signature_defs
        }
        metadata_json = {
            key: json_format.MessageToDict(
                signature_def, always_print_fields_with_no_presence=True, preserving_proto_field_name=True
            )
            for key, signature_def in signature_defs.items()
        }
        servable = cls(name, version, path, signatures, input_dtypes, metadata_json, loaded)
        servable.warm_up()
        return servable

    def warm_up(self) -> None:
        """Replays `assets.extra/tf_serving_warmup_requests` like TF Serving does before serving a version."""
        if not os.path.exists(os.path.join(self.path, WARMUP_FILE)):
            return
        from serving.export import warmup  # Imported here: only needed for models that ship warm-up requests.

        for signature_name, inputs in warmup.read_warmup_requests(self.path):
            self.run(signature_name, inputs)

    def run(self, signature_name: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Calls one signature; TensorFlow errors become `ServingError`s with TF Serving's codes."""
        function = self.signatures[signature_name]
        dtypes = self.input_dtypes[signature_name]
        try:
            tensors = {name: tf.convert_to_tensor(value, dtype=dtypes[name]) for name, value in inputs.items()}
            outputs = function(**tensors)
        except tf.errors.OpError as error:
            code = _ERROR_CODES.get(type(error).__name__, "UNKNOWN")
            raise ServingError(_clean_tensorflow_message(error.message), code) from None
        except (TypeError, ValueError) as error:
            raise ServingError(str(error).splitlines()[0]) from None
        return {name: np.asarray(tensor.numpy()) for name, tensor in outputs.items()}


def _clean_tensorflow_message(message: str) -> str:
    """Drops eager-mode decorations (graph execution preamble, `[Op:...]` suffix) that TF Serving lacks."""
    message = re.sub(r"^Graph execution error:\s*", "", message)
    message = re.sub(r"^Detected at node .*?\n<stack traces unavailable>\n", "", message, flags=re.DOTALL)
    return re.sub(r"\s*\[Op:[^\]]*\]\s*$", "", message).strip()


_ERROR_CODES = {
    "CancelledError": "CANCELLED",
    "UnknownError": "UNKNOWN",
    "InvalidArgumentError": "INVALID_ARGUMENT",
    "DeadlineExceededError": "DEADLINE_EXCEEDED",
    "NotFoundError": "NOT_FOUND",
    "AlreadyExistsError": "ALREADY_EXISTS",
    "PermissionDeniedError": "PERMISSION_DENIED",
    "ResourceExhaustedError": "RESOURCE_EXHAUSTED",
    "FailedPreconditionError": "FAILED_PRECONDITION",
    "AbortedError": "ABORTED",
    "OutOfRangeError": "OUT_OF_RANGE",
    "UnimplementedError": "UNIMPLEMENTED",
    "InternalError": "INTERNAL",
    "UnavailableError": "UNAVAILABLE",
    "DataLossError": "DATA_LOSS",
    "UnauthenticatedError": "UNAUTHENTICATED",
}


def find_latest_versions(export_root: str) -> dict[str, tuple[int, str]]:
    """Lists the models under an export root with their highest complete version.

    A model is a sub-folder (name starting with a letter or digit) with at least one numeric sub-folder
    holding `saved_model.pb`; anything else (`.tmp-*` staging folders, files) is ignored.

    Returns:
        `{name: (version, path)}`.
    """
    latest = {}
    try:
        model_entries = list(os.scandir(export_root))
    except (FileNotFoundError, NotADirectoryError):
        return latest
    for model_entry in model_entries:
        if not _MODEL_NAME.fullmatch(model_entry.name) or not model_entry.is_dir():
            continue
        try:
            version_entries = list(os.scandir(model_entry.path))
        except OSError:
            continue
        for version_entry in version_entries:
            if not _VERSION_NAME.fullmatch(version_entry.name):
                continue
            if not os.path.isfile(os.path.join(version_entry.path, "saved_model.pb")):
                continue
            version = int(version_entry.name)
            if model_entry.name not in latest or version > latest[model_entry.name][0]:
                latest[model_entry.name] = (version, version_entry.path)
    return latest


class ModelRepository:
    """The latest version of every model under an export root, reloaded when a new version appears.

    Args:
        export_root: Folder with `<name>/<version>/` SavedModels.
        poll_seconds: How often the background thread looks for new versions.
        log: Callable that prints one line (loads, unloads, failures).
    """

    def __init__(self, export_root: str, poll_seconds: float = 1.0, log=None):
        self.export_root = export_root
        self.poll_seconds = poll_seconds
        self._log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self._lock = threading.Lock()
        self._servables: dict[str, ServableVersion] = {}
        # Versions that failed to load, with the saved_model.pb mtime seen then: retried only if it changes.
        self._failed: dict[tuple[str, int], float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def get(self, name: str) -> ServableVersion | None:
        """The servable currently serving `name`, or None."""
        with self._lock:
            return self._servables.get(name)

    def servables(self) -> list[ServableVersion]:
        """All servables currently loaded, sorted by name."""
        with self._lock:
            return [self._servables[name] for name in sorted(self._servables)]

    def refresh(self) -> None:
        """Loads every model version that is newer (or older, if the newest was removed) than the served one."""
        latest = find_latest_versions(self.export_root)
        for name, (version, path) in sorted(latest.items()):
            current = self.get(name)
            if current is not None and current.version == version:
                continue
            try:
                modified = os.path.getmtime(os.path.join(path, "saved_model.pb"))
            except OSError:
                continue
            if self._failed.get((name, version)) == modified:
                continue
            started = time.monotonic()
            try:
                servable = ServableVersion.load(name, version, path)
            except Exception as error:  # A broken export must not take the server down: keep the old one.
                self._failed[(name, version)] = modified
                message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                self._log(f"Failed to load model '{name}' version {version} from {path}: {message}")
                continue
            with self._lock:
                self._servables[name] = servable
            self._log(f"Loaded model '{name}' version {version} in {time.monotonic() - started:.1f} s from {path}")
        with self._lock:
            removed = [name for name in self._servables if name not in latest]
            for name in removed:
                del self._servables[name]
        for name in removed:
            self._log(f"Unloaded model '{name}': no complete version left under {self.export_root}")

    def start(self) -> None:
        """Starts the polling thread."""
        self._thread = threading.Thread(target=self._poll, name="model-repository-poll", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 60) -> None:
        """Stops the polling thread (waits up to `timeout` seconds for a load in progress to finish)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.refresh()
            except Exception as error:  # Keep polling whatever happens on the filesystem.
                self._log(f"Polling {self.export_root} failed: {error}")
