"""TF Serving warm-up requests: `assets.extra/tf_serving_warmup_requests` inside a SavedModel version.

TF Serving replays these `PredictionLog` records (a TFRecord file, at most 1000 records) when it loads a
version, before the version becomes AVAILABLE, so that the first real request does not pay for graph
initialisation (`g3doc/saved_model_warmup.md`). The development server (`serving/rest/server.py`) replays them
too. The protos come from the `tensorflow-serving-api` package (pinned to TensorFlow's minor version in
requirements.txt).

Example (the export code calls this before renaming the version directory into place):

    write_warmup_requests(staging_dir, [("serving_default", {"images": np.zeros((1, 32, 32, 3), np.uint8)})])
"""

import os

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

WARMUP_DIRECTORY = "assets.extra"
WARMUP_FILENAME = "tf_serving_warmup_requests"
MAX_WARMUP_RECORDS = 1000  # TF Serving refuses to load a version whose warm-up file has more.


def warmup_file(saved_model_dir: str) -> str:
    """The path of the warm-up file inside a SavedModel directory."""
    return os.path.join(saved_model_dir, WARMUP_DIRECTORY, WARMUP_FILENAME)


def write_warmup_requests(saved_model_dir: str, requests: list[tuple[str, dict[str, np.ndarray]]]) -> str:
    """Writes TF Serving warm-up requests into a SavedModel directory.

    Args:
        saved_model_dir: The SavedModel (version) directory, usually still in its staging location.
        requests: `(signature_name, {input_name: array})` pairs; each becomes one `PredictionLog` whose
            `PredictRequest` has `model_spec.signature_name` and the inputs as `TensorProto`s. Arrays must
            have the signature's dtypes (`np.uint8` images, bytes/str arrays for string inputs).

    Returns:
        The path of the written file.

    Raises:
        ValueError: If `requests` is empty, too long, or an entry is malformed.
    """
    if not requests:
        raise ValueError("No warm-up requests given; pass at least one (signature_name, inputs) pair.")
    if len(requests) > MAX_WARMUP_RECORDS:
        raise ValueError(f"{len(requests)} warm-up requests given; TF Serving accepts at most {MAX_WARMUP_RECORDS}.")
    records = []
    for signature_name, inputs in requests:
        if not isinstance(signature_name, str) or not signature_name:
            raise ValueError(f"Warm-up signature name must be a non-empty string, got {signature_name!r}.")
        if not inputs:
            raise ValueError(f"Warm-up request for signature '{signature_name}' has no inputs.")
        request = predict_pb2.PredictRequest()
        request.model_spec.signature_name = signature_name
        for input_name, value in inputs.items():
            request.inputs[input_name].CopyFrom(tf.make_tensor_proto(np.asarray(value)))
        log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
        records.append(log.SerializeToString())
    path = warmup_file(saved_model_dir)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for record in records:
            writer.write(record)
    return path


def read_warmup_requests(saved_model_dir: str) -> list[tuple[str, dict[str, np.ndarray]]]:
    """Reads the predict warm-up requests of a SavedModel directory (the inverse of `write_warmup_requests`).

    Returns:
        `(signature_name, {input_name: array})` pairs (empty if there is no warm-up file); the signature name
        is `serving_default` where a record leaves it empty, as in TF Serving.
    """
    path = warmup_file(saved_model_dir)
    if not os.path.exists(path):
        return []
    requests = []
    for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
        log = prediction_log_pb2.PredictionLog.FromString(record)
        if log.WhichOneof("log_type") != "predict_log":
            continue
        request = log.predict_log.request
        inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
        requests.append((request.model_spec.signature_name or "serving_default", inputs))
    return requests
