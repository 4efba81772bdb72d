"""``make export-lite`` and ``--runtime litert``: the LiteRT files compute what the SavedModel computes
(float32 within 1e-4 over whole clips fed frame by frame, float16 within 1e-2, int8 the same top label
on >= 98 % of the embedded test frames), a model that would need Flex ops is refused, classify-video
and classify-image give the same outputs through them, and bad input is one line and exit 2."""

from __future__ import annotations

import csv
import json
import shutil

import cv2
import keras
import numpy as np
import pytest

from common import config as config_lib
from common.errors import UserError
from models import cnn, video_cnn_rnn
from pipelines.configs.image import PRESETS as IMAGE_PRESETS
from pipelines.configs.video import PRESETS as VIDEO_PRESETS
from pipelines.litert import calibration, rebuild
from pipelines.litert import export as litert_export
from serving.export import image_export, layout, litert_convert, litert_model, video_export
from tests.helpers import exits_without_tensorflow, run_module

NUM_TEST_CLIPS = 96  # of the embedded test split: 1,536 frames
# A small video model trained in-process on all 3,200 embedded training clips to ~0.94 per frame: int8
# agreement is a property of a confident model. Measured with the same quantisation: 0.99 agreement for
# this one, 0.91-0.94 for one trained to 0.73-0.75 (its probabilities near ties on many frames).
VIDEO_SETTINGS = dict(frame_size=32, filters=(8, 16, 32), dense_units=32, units=32, max_train_examples=4096)
TRAIN_EPOCHS = 8
IMAGE_SIZE = 16


def _video_config():
    return config_lib.replace(VIDEO_PRESETS["tiny"], num_frames=16, **VIDEO_SETTINGS).resolved()


@pytest.fixture(scope="module")
def video_export_root(tmp_path_factory):
    """``video/1``: the small video model, trained and exported; ``video_lite/1``: make export-lite's output."""
    from pipelines.datasets import video_sources

    config = _video_config()
    data = video_sources.load(config.data, config.model.frame_size, config.seed)
    clips, labels = (np.stack(parts) for parts in zip(*[(c.numpy(), y.numpy()) for c, y in data.train]))
    keras.utils.set_random_seed(config.seed)
    model = video_cnn_rnn.build_video_cnn_rnn(config.model, len(data.class_names))
    model.compile(optimizer=keras.optimizers.Adam(5e-3), loss="sparse_categorical_crossentropy")
    model.fit(clips, labels, epochs=TRAIN_EPOCHS, batch_size=32, verbose=0)
    root = tmp_path_factory.mktemp("export")
    video_export.export_video_model(model, config.model, data.class_names, config_lib.to_dict(config), root, clips[:2])
    result = run_module("pipelines.litert.export", "--export-dir", str(root), "--calibration-samples", "256")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "model_int8.tflite" in result.stdout
    return root


def _test_clips(count=NUM_TEST_CLIPS):
    from pipelines.datasets import video_sources

    config = _video_config()
    data = video_sources.load(config.data, config.model.frame_size, config.seed)
    return np.stack([clip.numpy() for clip, _ in data.test.take(count)])


def _frame_by_frame(path, clips, state_shapes):
    model = litert_model.LiteModel(path)
    outputs = []
    for clip in clips:
        state = {name: np.zeros(shape, np.float32) for name, shape in state_shapes.items()}
        rows = []
        for frame in clip:
            result = model(frame=frame[np.newaxis], **state)
            state = {name: result[name] for name in state}
            rows.append(result["probabilities"][0])
        outputs.append(rows)
    return np.asarray(outputs)


def test_each_precision_against_the_stream_signature(video_export_root):
    import tensorflow as tf

    clips = _test_clips()
    sizes = video_cnn_rnn.state_sizes(_video_config().model)
    stream = tf.saved_model.load(str(video_export_root / "video" / "1")).signatures["stream"]
    zeros = {name: tf.zeros([1, size]) for name, size in sizes.items()}
    expected = np.stack([stream(frames=tf.constant(c[np.newaxis]), **zeros)["probabilities"].numpy()[0] for c in clips])
    lite = video_export_root / "video_lite" / "1"
    shapes = {name: (1, size) for name, size in sizes.items()}
    outputs = {p: _frame_by_frame(lite / litert_convert.file_name(p), clips, shapes) for p in litert_convert.PRECISIONS}
    assert np.abs(outputs["float32"] - expected).max() <= 1e-4
    assert np.abs(outputs["float16"] - expected).max() <= 1e-2
    agreement = (outputs["int8"].argmax(-1) == outputs["float32"].argmax(-1)).mean()
    assert agreement >= 0.98, agreement
    sizes_on_disk = {p: (lite / litert_convert.file_name(p)).stat().st_size for p in litert_convert.PRECISIONS}
    assert sizes_on_disk["int8"] < sizes_on_disk["float16"] < sizes_on_disk["float32"]


def test_the_version_folder_and_its_metadata(video_export_root):
    lite = video_export_root / "video_lite" / "1"
    metadata = json.loads((lite / "metadata.json").read_text())
    assert sorted(p.name for p in lite.iterdir()) == [
        "classes.txt", "metadata.json", "model_float16.tflite", "model_float32.tflite", "model_int8.tflite",
    ]  # fmt: skip
    assert (lite / "classes.txt").read_text() == (video_export_root / "video" / "1" / "assets.extra" / "classes.txt").read_text()
    assert metadata["source"]["version"] == 1 and metadata["input"] == {**metadata["input"], "name": "frame", "shape": [1, 32, 32, 3], "dtype": "uint8"}
    sizes = video_cnn_rnn.state_sizes(_video_config().model)
    assert [(s["name"], s["shape"]) for s in metadata["states"]] == [(name, [1, size]) for name, size in sizes.items()]
    assert metadata["calibration"]["samples"] == 256 and metadata["calibration"]["split"] == "train"
    assert metadata["check"]["float32_max_difference"] <= 1e-4
    assert all(metadata["files"][p]["bytes"] == (lite / litert_convert.file_name(p)).stat().st_size for p in metadata["files"])
    assert not [p for p in (video_export_root / "video_lite").iterdir() if p.name.startswith(".")]  # nothing staged left
    assert "video_lite" not in (video_export_root / "models.config").read_text()  # TF Serving never sees it
    # Converting the same version again replaces it whole.
    first = (lite / "metadata.json").stat().st_ino
    _, again = litert_export.export_litert(video_export_root, "video", calibration_samples=256)
    assert (lite / "metadata.json").stat().st_ino != first and layout.latest_lite_version_dir(video_export_root, "video") == lite
    assert json.loads((lite / "metadata.json").read_text()) == again
    assert all(_sha256(lite / again["files"][p]["file"]) == again["files"][p]["sha256"] for p in litert_convert.PRECISIONS)
    assert sorted(p.name for p in (video_export_root / "video_lite").iterdir()) == ["1"]


def _sha256(path):
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


class _NeedsFlex(keras.layers.Layer):
    """An antialiased resize: TensorFlow's ScaleAndTranslate, which no LiteRT built-in kernel runs."""

    def call(self, frames):
        return keras.ops.image.resize(keras.ops.cast(frames, "float32"), (8, 8), antialias=True)


def test_a_model_that_needs_flex_ops_is_refused_with_their_names_and_nothing_is_published(
    video_export_root, tmp_path, monkeypatch
):
    root = tmp_path / "export"
    shutil.copytree(video_export_root / "video", root / "video")

    def build_with_flex(model, config):
        frame = keras.Input((32, 32, 3), batch_size=1, dtype="uint8", name="frame")
        states = [keras.Input((size,), batch_size=1, name=name) for name, size in video_cnn_rnn.state_sizes(config).items()]
        probabilities = keras.layers.Dense(2, name="probabilities")(keras.layers.Flatten()(_NeedsFlex()(frame)))
        return keras.Model([frame, *states], {"probabilities": probabilities, **dict(zip(video_cnn_rnn.state_sizes(config), states))})

    from models import device_step

    monkeypatch.setattr(device_step, "build_video_step", build_with_flex)
    with pytest.raises(UserError, match=r"LiteRT's built-in kernels lack \(tf\.ScaleAndTranslate\)"):
        litert_export.export_litert(root, "video")
    assert not (root / "video_lite").exists() or not list((root / "video_lite").iterdir())


def test_classify_video_through_litert_writes_what_the_savedmodel_writes(video_export_root, tmp_path):
    clip = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (32, 32))
    for frame in _test_clips(3).reshape(-1, 32, 32, 3):
        writer.write(frame[..., ::-1])
    writer.release()
    rows = {}
    for runtime, precision in (("savedmodel", "float32"), ("litert", "float32"), ("litert", "int8")):
        out = tmp_path / f"{runtime}-{precision}"
        result = run_module(
            "serving.classify.video", str(clip), "--export-dir", str(video_export_root), "--out", str(out),
            "--runtime", runtime, "--precision", precision, "--batch-size", "5",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        with open(out / "frames.csv", encoding="utf-8") as handle:
            rows[runtime, precision] = list(csv.DictReader(handle))
        assert {"summary.json", "timeline.png", "index.html"} <= {p.name for p in out.iterdir()}
        summary = json.loads((out / "summary.json").read_text())
        assert summary["model"]["version"] == 1 and summary["model"].get("runtime", "savedmodel") == runtime
    classes = rebuild.class_names_of(video_export_root / "video" / "1")
    saved, lite = rows["savedmodel", "float32"], rows["litert", "float32"]
    assert len(saved) == len(lite) == 48 and list(saved[0]) == list(lite[0])
    assert max(abs(float(a[c]) - float(b[c])) for a, b in zip(saved, lite) for c in classes) <= 1e-4
    assert [r["label"] for r in saved] == [r["label"] for r in lite]
    assert np.mean([a["label"] == b["label"] for a, b in zip(lite, rows["litert", "int8"])]) >= 0.9


def _stripes(rng, kind: int, size: int) -> np.ndarray:
    rows, columns = np.mgrid[0:size, 0:size]
    stripes = 127 + 90 * np.sign(np.sin(2 * np.pi * 3 * (rows if kind == 0 else columns) / size))
    return np.clip(stripes[..., None] + rng.normal(0, 20, (size, size, 3)), 0, 255).astype(np.uint8)


def test_classify_image_through_litert_matches_the_savedmodel(tmp_path):
    rng = np.random.default_rng(0)
    kinds = np.arange(128) % 2
    images = np.stack([_stripes(rng, kind, IMAGE_SIZE) for kind in kinds])
    settings = config_lib.replace(IMAGE_PRESETS["tiny"], image_size=IMAGE_SIZE, filters=(4, 8), dense_units=8).resolved()
    model = cnn.build_image_classifier(settings.model, 2)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    model.fit(images, kinds, epochs=4, batch_size=32, verbose=0)
    root = tmp_path / "export"
    image_export.export_image_model(model, ["across", "down"], config_lib.to_dict(settings), root, images[:2])
    photos = tmp_path / "photos"
    for kind, name in enumerate(["across", "down"]):  # also the calibration data: a folder of class folders
        (photos / name).mkdir(parents=True)
        for index in range(6):
            cv2.imwrite(str(photos / name / f"{index}.png"), _stripes(rng, kind, IMAGE_SIZE)[..., ::-1])
    lite, metadata = litert_export.export_litert(root, "image", calibration_dataset=str(photos), check_items=4)
    assert metadata["input"]["shape"] == [1, IMAGE_SIZE, IMAGE_SIZE, 3] and metadata["states"] == []
    predictions = {}
    for runtime in ("savedmodel", "litert"):
        result = run_module(
            "serving.classify.image", str(photos), "--export-dir", str(root), "--out", str(tmp_path / runtime),
            "--runtime", runtime,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        with open(tmp_path / runtime / "predictions.csv", encoding="utf-8") as handle:
            predictions[runtime] = list(csv.DictReader(handle))
    # The photos are at the model's size: the resize is the identity, the pixels the same.
    pairs = zip(predictions["savedmodel"], predictions["litert"])
    assert max(abs(float(a[c]) - float(b[c])) for a, b in pairs for c in ("across", "down")) <= 1e-4
    one = run_module("serving.classify.image", str(photos / "down" / "0.png"), "--export-dir", str(root), "--runtime", "litert", "--precision", "int8")
    assert one.returncode == 0 and one.stdout.split()[0] in ("across", "down"), one.stderr[-2000:]


def test_bad_input_is_one_line_and_exit_2(video_export_root, stub_exports, tmp_path):
    clip = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (32, 32))
    for _ in range(4):
        writer.write(np.zeros((32, 32, 3), np.uint8))
    writer.release()
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), np.zeros((16, 16, 3), np.uint8))
    moved = tmp_path / "moved"  # the export's training data named in config.json is gone
    shutil.copytree(video_export_root / "video", moved / "video")
    settings = json.loads((moved / "video" / "1" / "assets.extra" / "config.json").read_text())
    (moved / "video" / "1" / "assets.extra" / "config.json").write_text(json.dumps({**settings, "dataset": str(tmp_path / "gone")}))
    (tmp_path / "empty" / "walk").mkdir(parents=True)
    lite, video = "pipelines.litert.export", "serving.classify.video"
    calls = [
        (lite, ["--export-dir", str(tmp_path / "nothing")]),
        (lite, ["--model", "text", "--export-dir", str(video_export_root)]),
        (lite, ["--export-dir", str(moved)]),
        (lite, ["--export-dir", str(video_export_root), "--calibration-dataset", str(tmp_path / "empty")]),
        (video, [str(clip), "--export-dir", str(stub_exports), "--runtime", "litert"]),
        (video, [str(clip), "--export-dir", str(video_export_root), "--runtime", "litert", "--server", "http://127.0.0.1:9"]),
        ("serving.classify.image", [str(photo), "--export-dir", str(stub_exports), "--runtime", "litert"]),
    ]
    codes, _, errors = exits_without_tensorflow(calls)
    assert codes == [2] * len(calls), errors
    assert len(errors) == len(calls), errors
    assert "run `make train-video` first" in errors[0]
    assert "'text' has no stream signature" in errors[1]
    assert "calibration data:" in errors[2] and "does not exist" in errors[2]
    assert "calibration data" in errors[3]
    assert "make export-lite MODEL=video" in errors[4] and "make export-lite MODEL=image" in errors[6]
    assert "leave out --server" in errors[5]


def test_a_video_export_without_a_stream_signature_is_refused(video_export_root, tmp_path):
    from tests.serving.saved_models import ImageModel, save_model

    root = tmp_path / "export"
    save_model(ImageModel(), str(root / "video" / "1"))
    extra = root / "video" / "1" / "assets.extra"
    extra.mkdir()
    shutil.copy(video_export_root / "video" / "1" / "assets.extra" / "config.json", extra / "config.json")
    with pytest.raises(UserError, match=r"has no 'stream' signature"):
        litert_export.export_litert(root, "video")


def test_calibration_carries_the_states(video_export_root):
    config = rebuild.typed_config("video", rebuild.read_settings(video_export_root / "video" / "1"))
    data = calibration.load_data("video", config)
    model = litert_model.LiteModel(video_export_root / "video_lite" / "1" / "model_float32.tflite")
    shapes = {name: (1, size) for name, size in video_cnn_rnn.state_sizes(config.model).items()}
    samples = calibration.video_calibration(model, shapes, data, config, samples=32, sequences=4)
    assert len(samples.samples) == 32 and samples.description["sequences"] == 4
    first, later = samples.samples[0], samples.samples[1]
    assert all(not first[name].any() for name in shapes)  # a sequence starts from zero states
    assert all(later[name].any() for name in shapes)  # and carries them: never zeros again
