"""``make export-lite [MODEL=video|image]``: an export's model as LiteRT files, for devices.

    python -m pipelines.litert.export [--model video|image] [--version N] [--export-dir export]
        [--calibration-dataset DATASET] [--calibration-samples 512] [--calibration-sequences 64]
        [--check-items 16]

From ``export/<name>/<version>/`` (the latest unless ``--version``) it writes
``export/<name>_lite/<version>/`` (same version number):

- ``model_float32.tflite``, ``model_float16.tflite``, ``model_int8.tflite`` (``litert_convert``);
  video: ``frame`` uint8 (1, size, size, 3) and the states ``state_0`` ... float32 (1, n) in,
  ``probabilities`` (1, classes) and the new states out (``models.device_step``); image: ``image``
  uint8 (1, size, size, 3) in, ``probabilities`` out. Frames and images come at the model's size,
  resized with anti-aliased bilinear as the data sources resize them.
- ``classes.txt``, and ``metadata.json`` (written last: the version is complete when it is there):
  input and state names and shapes, the source export, the calibration data, the check's figures.

The trained Keras model is rebuilt from the export (``rebuild``); int8 is calibrated on the training
data named in its ``config.json`` with carried states (``calibration``). Before anything is
published, the staged files run in a fresh process with LiteRT alone (``litert_check.py``) on test
clips (or photos) and are compared with the SavedModel (the ``stream`` signature from zero states, or
``serving_default``): float32 must match within 1e-4 or nothing is published; the float16 difference
and int8's top-label agreement with float32 are recorded. Written atomically (``publish``).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import pathlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

import numpy as np

from common import cli, quiet
from common.errors import UserError
from pipelines.litert import calibration, rebuild
from serving.export import layout, litert_convert, litert_model, publish

CHECK_SCRIPT = pathlib.Path(litert_convert.__file__).with_name("litert_check.py")
SIGNATURES = {"video": "stream", "image": "serving_default"}  # what each device model is checked against
FLOAT32_TOLERANCE = 1e-4


class CheckFailed(RuntimeError):
    """The converted float32 model does not compute what the SavedModel computes: nothing was published."""


def find_source(export_root: str | pathlib.Path, name: str, version: int | None) -> pathlib.Path:
    """``export/<name>/<version>`` (the latest when ``version`` is None). Needs no TensorFlow.

    Raises:
        UserError: a model with no stream model to run frame by frame, or no such export.
    """
    if name not in SIGNATURES:
        raise UserError(
            f"'{name}' has no stream signature or image model to run on a device: export-lite converts "
            "MODEL=video (its stream model, one frame at a time) or MODEL=image"
        )
    model_dir = pathlib.Path(export_root) / name
    if version is not None:
        if version not in layout.versions(model_dir):
            raise UserError(f"{model_dir / str(version)} is not a complete export (no saved_model.pb)")
        return model_dir / str(version)
    found = layout.latest_version_dir(export_root, name)
    if found is None:
        raise UserError(f"no {name} model exported under {export_root}/ to convert; run `make train-{name}` first")
    return found


def state_descriptions(model_config) -> list[str]:
    """What each state tensor of the video step carries, in ``state_sizes`` order."""
    names = ["recurrent h"] + (["recurrent c"] if model_config.cell == "lstm" else [])
    if model_config.feature_difference:
        names.append("the previous frame's CNN features")
    if model_config.pixel_difference:
        names.append("the previous frame's preprocessed pixels, flattened")
    return names


def _device_model(rebuilt, name: str):
    """The one-frame (video) or one-image Keras model, its input name and its state shapes."""
    from models import device_step, video_cnn_rnn  # deferred: Keras, once the input is checked

    if name == "video":
        model_config = rebuilt.config.model
        step = device_step.build_video_step(rebuilt.model, model_config)
        shapes = {state: (1, size) for state, size in video_cnn_rnn.state_sizes(model_config).items()}
        return step, "frame", shapes
    return device_step.build_image_step(rebuilt.model, rebuilt.config.model.image_size), "image", {}


def _expected(loaded, name: str, inputs: np.ndarray, state_shapes: dict) -> np.ndarray:
    """The SavedModel's probabilities on the check inputs: each clip through ``stream`` from zero states."""
    import tensorflow as tf  # deferred: loaded by the caller by then

    signature = loaded.signatures[SIGNATURES[name]]
    if name == "image":
        return signature(images=tf.constant(inputs))["probabilities"].numpy()
    zeros = {state: tf.zeros(shape) for state, shape in state_shapes.items()}
    return np.stack(
        [signature(frames=tf.constant(clip[np.newaxis]), **zeros)["probabilities"].numpy()[0] for clip in inputs]
    )


def run_fresh(staging: pathlib.Path, inputs: np.ndarray, input_name: str, states: list[str]) -> dict[str, np.ndarray]:
    """Every precision's probabilities on ``inputs``, computed by ``litert_check.py`` in a new process."""
    files = {precision: litert_convert.file_name(precision) for precision in litert_convert.PRECISIONS}
    with tempfile.TemporaryDirectory() as cases:
        np.savez(pathlib.Path(cases) / "inputs.npz", inputs=inputs)
        (pathlib.Path(cases) / "plan.json").write_text(
            json.dumps({"files": files, "input": input_name, "states": states})
        )
        result = subprocess.run(
            [sys.executable, "-I", str(CHECK_SCRIPT), str(staging), cases], capture_output=True, text=True, timeout=600
        )
        if result.returncode != 0 or not result.stdout.strip().endswith("ok"):
            raise CheckFailed(f"the LiteRT files did not run in a fresh process: {result.stderr.strip()[-2000:]}")
        return {precision: np.load(pathlib.Path(cases) / f"{precision}.npy") for precision in files}


def compare(expected: np.ndarray, outputs: dict[str, np.ndarray]) -> dict:
    """Maximum differences from the SavedModel and int8's top-label agreement with float32."""
    difference = {p: float(np.abs(outputs[p] - expected).max()) for p in outputs}
    agreement = float((outputs["int8"].argmax(-1) == outputs["float32"].argmax(-1)).mean())
    return {
        "float32_max_difference": difference["float32"],
        "float16_max_difference": difference["float16"],
        "int8_max_difference": difference["int8"],
        "int8_top_label_agreement_with_float32": agreement,
        "frames" if outputs["float32"].ndim == 3 else "images": int(np.prod(expected.shape[:-1])),
    }


def export_litert(
    export_root: str | pathlib.Path,
    name: str = "video",
    version: int | None = None,
    calibration_dataset: str | None = None,
    calibration_samples: int = 512,
    calibration_sequences: int = 64,
    check_items: int = 16,
) -> tuple[pathlib.Path, dict]:
    """Converts ``export/<name>/<version>`` and publishes ``export/<name>_lite/<version>``.

    Returns:
        The LiteRT version directory and its metadata.

    Raises:
        UserError: bad input (no export, no stream model, calibration data missing or empty, a model
            that needs Flex ops).
        CheckFailed: the float32 file does not match the SavedModel; nothing was published.
    """
    if calibration_samples < 1 or calibration_sequences < 1 or check_items < 1:
        raise UserError("--calibration-samples, --calibration-sequences and --check-items must be at least 1")
    source_dir = find_source(export_root, name, version)
    settings = rebuild.read_settings(source_dir)
    if settings.get("stub"):
        raise UserError(f"{source_dir} is a stand-in model without trained layers; train one (make train-{name})")
    config = calibration.with_dataset(rebuild.typed_config(name, settings), calibration_dataset)
    from pipelines.datasets import checks  # needs no TensorFlow: a missing folder fails here, at once

    try:
        checks.check_folder_dataset(config.data.dataset, name)
    except UserError as error:
        raise UserError(f"calibration data: {error} (give another with ARGS='--calibration-dataset PATH')") from None
    quiet.import_tensorflow()
    import tensorflow as tf  # deferred: bad input is refused before TensorFlow loads

    loaded = tf.saved_model.load(str(source_dir))
    if SIGNATURES[name] not in loaded.signatures:
        raise UserError(f"{source_dir} has no '{SIGNATURES[name]}' signature; re-export it (make train-{name})")
    rebuilt = rebuild.rebuild(source_dir, name, loaded)
    rebuilt.config = config
    step, input_name, state_shapes = _device_model(rebuilt, name)
    what = f"the {name} model of {source_dir}"
    started = time.perf_counter()
    blobs = {p: litert_convert.convert(step, p, what=what) for p in ("float32", "float16")}
    data = calibration.load_data(name, config)
    with tempfile.TemporaryDirectory() as scratch:
        float_path = pathlib.Path(scratch) / litert_convert.file_name("float32")
        float_path.write_bytes(blobs["float32"])
        if name == "video":
            float_model = litert_model.LiteModel(float_path)
            samples = calibration.video_calibration(
                float_model, state_shapes, data, config, calibration_samples, calibration_sequences
            )
        else:
            samples = calibration.image_calibration(data, config, calibration_samples)
    blobs["int8"] = litert_convert.convert(step, "int8", lambda: iter(samples.samples), what=what)
    convert_seconds = time.perf_counter() - started
    check_inputs = calibration.check_inputs(name, data, check_items)
    expected = _expected(loaded, name, check_inputs, state_shapes)
    metadata = {
        "model": name,
        "source": {"name": name, "version": int(source_dir.name), "path": str(source_dir.resolve())},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "input": {
            "name": input_name,
            "shape": list(step.inputs[0].shape),
            "dtype": "uint8",
            "layout": "RGB at the model's size, resized with anti-aliased bilinear (tf.image.resize antialias=True)",
        },
        "states": [
            {"name": state, "shape": list(shape), "dtype": "float32", "carries": carries}
            for (state, shape), carries in zip(
                state_shapes.items(), state_descriptions(config.model) if state_shapes else []
            )
        ],
        "outputs": {"probabilities": [1, len(rebuilt.class_names)], **{s: list(v) for s, v in state_shapes.items()}},
        "classes": rebuilt.class_names,
        "files": {},
        "calibration": samples.description,
        "converter": f"tensorflow {tf.__version__} TFLiteConverter.from_keras_model, built-in ops only",
        "runtime": f"ai-edge-litert {_version('ai-edge-litert')}",
        "convert_seconds": round(convert_seconds, 1),
    }

    def write(staging: pathlib.Path) -> None:
        for precision, blob in blobs.items():
            path = staging / litert_convert.file_name(precision)
            path.write_bytes(blob)
            metadata["files"][precision] = {
                "file": path.name,
                "bytes": len(blob),
                "sha256": hashlib.sha256(blob).hexdigest(),
            }
        (staging / "classes.txt").write_text("\n".join(rebuilt.class_names) + "\n", encoding="utf-8")
        metadata["check"] = compare(expected, run_fresh(staging, check_inputs, input_name, list(state_shapes)))
        metadata["check"]["against"] = (
            f"{source_dir.name}/{SIGNATURES[name]} on test {'clips' if state_shapes else 'images'}"
        )
        if metadata["check"]["float32_max_difference"] > FLOAT32_TOLERANCE:
            raise CheckFailed(
                f"float32 LiteRT differs from {source_dir}'s {SIGNATURES[name]} signature by "
                f"{metadata['check']['float32_max_difference']:.3g} > {FLOAT32_TOLERANCE}: nothing published"
            )
        (staging / layout.LITE_COMPLETE).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")

    lite_dir = publish.publish_as_version(export_root, f"{name}{layout.LITE_SUFFIX}", int(source_dir.name), write)
    return lite_dir, metadata


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def print_report(lite_dir: pathlib.Path, metadata: dict) -> None:
    check, source = metadata["check"], metadata["source"]
    count = check.get("frames", check.get("images"))
    unit = "frames" if "frames" in check else "images"
    print(f"{lite_dir}: {metadata['model']} v{source['version']} as LiteRT ({metadata['runtime']})")
    sizes = {p: metadata["files"][p]["bytes"] for p in litert_convert.PRECISIONS}
    agreement = check["int8_top_label_agreement_with_float32"]
    notes = {
        "float32": f"max difference from the SavedModel {check['float32_max_difference']:.2g}",
        "float16": f"max difference {check['float16_max_difference']:.2g}",
        "int8": f"top label as float32 on {100 * agreement:.1f}% of {count} {unit}",
    }
    for precision, size in sizes.items():
        ratio = size / sizes["float32"]
        print(f"  {litert_convert.file_name(precision):<22}{size / 1024:9.1f} KiB  {ratio:.2f}x  {notes[precision]}")
    description = metadata["calibration"]
    print(f"int8 calibrated on {description['samples']} samples of {description['dataset']} ({description['split']})")
    if check["int8_top_label_agreement_with_float32"] < 0.98:
        print(f"warning: int8 agrees with float32 on under 98% of the check {unit}; prefer --precision float16")


def build_parser() -> cli.ArgumentParser:
    parser = cli.ArgumentParser(prog="python -m pipelines.litert.export", description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="video", help="video (the stream model, frame by frame) or image")
    parser.add_argument("--version", type=int, default=None, help="the export version to convert (default: latest)")
    parser.add_argument("--export-dir", default="export", help="TF Serving model base directory")
    parser.add_argument(
        "--calibration-dataset", default=None, help="int8 calibration data (default: the export's training data)"
    )
    parser.add_argument("--calibration-samples", type=int, default=512, help="int8 calibration samples")
    parser.add_argument(
        "--calibration-sequences", type=int, default=64, help="video: training videos or clips they are spread over"
    )
    parser.add_argument("--check-items", type=int, default=16, help="test clips (or photos) the files are checked on")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        lite_dir, metadata = export_litert(
            args.export_dir,
            args.model,
            args.version,
            args.calibration_dataset,
            args.calibration_samples,
            args.calibration_sequences,
            args.check_items,
        )
    except CheckFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print_report(lite_dir, metadata)
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
