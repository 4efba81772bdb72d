"""serving.warmup: TF Serving warm-up files, and their replay by the development server."""

import numpy as np
import pytest
import tensorflow as tf
from tests.serving.saved_models import TextModel, save_model
from tensorflow_serving.apis import prediction_log_pb2

from serving.export import warmup
from serving.rest import model_repository


def test_warmup_file_is_a_tfrecord_of_prediction_logs(tmp_path):
    images = np.zeros((1, 4, 4, 3), np.uint8)
    texts = np.array([b"hello", "wörld".encode()], dtype=object)
    path = warmup.write_warmup_requests(
        str(tmp_path), [("serving_default", {"images": images}), ("text", {"t": texts})]
    )
    assert path == str(tmp_path / "assets.extra" / "tf_serving_warmup_requests")

    records = list(tf.data.TFRecordDataset(path).as_numpy_iterator())
    assert len(records) == 2
    log = prediction_log_pb2.PredictionLog.FromString(records[0])
    request = log.predict_log.request
    assert request.model_spec.signature_name == "serving_default"
    assert tf.dtypes.as_dtype(request.inputs["images"].dtype) == tf.uint8
    np.testing.assert_array_equal(tf.make_ndarray(request.inputs["images"]), images)

    requests = warmup.read_warmup_requests(str(tmp_path))
    assert [name for name, _ in requests] == ["serving_default", "text"]
    assert requests[1][1]["t"].tolist() == texts.tolist()


@pytest.mark.parametrize("requests", [[], [("", {"x": np.zeros(1)})], [("serving_default", {})]])
def test_bad_warmup_requests_are_refused(tmp_path, requests):
    with pytest.raises(ValueError):
        warmup.write_warmup_requests(str(tmp_path), requests)


def test_server_replays_warmup_and_refuses_versions_whose_warmup_fails(tmp_path):
    root = tmp_path / "export"
    good = save_model(TextModel(), str(root / "text" / "1"))
    warmup.write_warmup_requests(good, [("serving_default", {"text": np.array([b"warm"], dtype=object)})])
    bad = save_model(TextModel(), str(root / "text" / "2"))
    warmup.write_warmup_requests(bad, [("serving_default", {"text": np.zeros((1, 2), np.float32)})])
    lines = []
    repository = model_repository.ModelRepository(str(root), log=lines.append)
    repository.refresh()
    assert repository.get("text") is None  # version 2 (the latest) failed its warm-up
    assert "Failed to load model 'text' version 2" in lines[0]
    repository.refresh()  # not retried until its saved_model.pb changes
    assert len(lines) == 1
    (root / "text" / "2" / "saved_model.pb").unlink()
    repository.refresh()
    assert repository.get("text").version == 1  # falls back to the highest complete version
