"""LiteRT on one CPU thread, one frame at a time, beside the SavedModel: ``python -m bench litert``.

    python -m bench litert [--export-dir export] [--calls 1000] [--repeats 3] [--weizmann actor0|all|none]

Models: the latest ``export/video`` (the default video model: ``make train-video``) and, when present,
``export/image`` (for the figures in the README, MobileNetV2 trained on ``../shared/data/images/cats_dogs``),
converted by ``make export-lite`` first when their LiteRT version is missing. Rows:

- per-frame latency p50 and p95 of each ``.tflite`` and of the SavedModel (``stream`` with one frame and
  the states; images: ``serving_default`` on one image), one thread, states carried
  (``bench.support.litert_latency``, its own process; the median over ``--repeats`` rounds, the
  range in the metric's name); targets for the video model: int8 <= 1 ms and faster than the SavedModel;
- file size per precision against float32 (target for the video model: int8 <= 0.3x);
- per-frame accuracy per precision (and the SavedModel's, on the same frames): the embedded test clips
  (frames after the first quarter of each clip, as the pipeline counts them; target int8 within
  1 point of float32), and the image model's test photos;
- weizmann4, people never seen (``../shared/data/actions/weizmann4``): one fold by default (actor0
  held out; ``--weizmann all`` runs all six, ``none`` skips): ``bench.real_actions``' fold trains and
  exports the video model, ``make export-lite`` converts it (calibrated on that fold's training videos),
  and every frame of the held-out videos goes through each runtime (after the first 4); target int8
  within 2 points of float32. About 2 minutes a fold on 2 cores.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import tempfile

import cv2
import numpy as np

from bench import real_actions
from bench.support.table import Rows, format_table
from common import cli
from common.errors import UserError
from pipelines.litert import calibration, rebuild
from pipelines.litert import export as litert_export
from serving.export import layout, litert_convert, litert_model

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[1]
WEIZMANN = PROJECT_ROOT.parent / "shared" / "data" / "actions" / "weizmann4"
GROUP_PATTERN = r"^(actor\d+)_"


def ensure_lite(export_root: pathlib.Path, name: str) -> tuple[pathlib.Path, pathlib.Path] | None:
    """(source export, its LiteRT version), converting when missing; None without an export or with
    one that cannot be converted (a stand-in)."""
    source = layout.latest_version_dir(export_root, name)
    if source is None:
        return None
    lite = layout.lite_dir(export_root, name) / source.name
    if not (lite / layout.LITE_COMPLETE).exists():
        print(f"litert: converting {source} (make export-lite MODEL={name})", file=sys.stderr, flush=True)
        try:
            lite, _ = litert_export.export_litert(export_root, name, int(source.name))
        except UserError as error:  # a stand-in export, its training data gone: nothing to measure
            print(f"litert: {name} skipped: {error}", file=sys.stderr)
            return None
    return source, lite


def latency_rows(row, label: str, source: pathlib.Path, lite: pathlib.Path, calls: int, repeats: int, video: bool):
    command = [sys.executable, "-m", "bench.support.litert_latency", str(lite), str(source)]
    result = subprocess.run(
        [*command, "--calls", str(calls), "--repeats", str(repeats)], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"latency of {lite} failed:\n{result.stderr[-3000:]}")
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    baseline = float(np.median(measured["savedmodel"]["p50_ms"]))
    for runtime, times in measured.items():
        for quantile in ("p50", "p95"):
            values = times[f"{quantile}_ms"]
            median = float(np.median(values))
            name = "SavedModel" if runtime == "savedmodel" else runtime
            target, ok = "", None
            if video and runtime == "int8" and quantile == "p50":
                target, ok = "<= 1 ms, < SavedModel", median <= 1.0 and median < baseline
            row(
                f"{label}: {name} {quantile} per {'frame' if video else 'image'} ({min(values):.3f}-{max(values):.3f})",
                f"{median:.3f}",
                "ms",
                median / baseline if quantile == "p50" else None,
                "SavedModel p50" if quantile == "p50" else "",
                target,
                ok,
            )


def size_rows(row, label: str, lite: pathlib.Path, video: bool) -> None:
    """File size per precision; the 0.3x target is the video model's (the issue's device model)."""
    files = json.loads((lite / layout.LITE_COMPLETE).read_text())["files"]
    float32 = files["float32"]["bytes"]
    for precision in litert_convert.PRECISIONS:
        size = files[precision]["bytes"]
        target = "<= 0.3x" if precision == "int8" and video else ""
        row(
            f"{label}: {precision} file",
            size / 1024,
            "KiB",
            size / float32,
            "float32",
            target,
            size <= 0.3 * float32 if target else None,
        )


def _models(lite: pathlib.Path) -> dict[str, litert_model.LiteModel]:
    return {p: litert_model.LiteModel(lite / litert_convert.file_name(p), threads=1) for p in litert_convert.PRECISIONS}


def video_probabilities(source: pathlib.Path, lite: pathlib.Path, videos: list[np.ndarray]) -> dict[str, list]:
    """Per runtime, each video's (frames, classes) probabilities: the SavedModel's stream from zero
    states on the whole video, each .tflite one frame at a time, states carried."""
    import tensorflow as tf  # deferred: `make bench` imports every bench module

    metadata = json.loads((lite / layout.LITE_COMPLETE).read_text())
    stream = tf.saved_model.load(str(source)).signatures["stream"]
    zeros = {s["name"]: np.zeros(s["shape"], np.float32) for s in metadata["states"]}
    results = {
        "savedmodel": [stream(frames=tf.constant(v[np.newaxis]), **zeros)["probabilities"].numpy()[0] for v in videos]
    }
    for precision, model in _models(lite).items():
        results[precision] = []
        for frames in videos:
            state, rows = dict(zeros), []
            for frame in frames:
                outputs = model(frame=frame[np.newaxis], **state)
                state = {name: outputs[name] for name in state}
                rows.append(outputs["probabilities"][0])
            results[precision].append(np.stack(rows))
    return results


def accuracy_rows(
    row, label: str, results: dict, labels: list[np.ndarray], skip: int, gap: float | None, unit: str = "frame"
) -> None:
    """Per-frame accuracy per runtime (frames from ``skip`` on), int8's gap to float32 against ``gap``."""
    accuracy = {}
    for runtime, outputs in results.items():
        correct = sum(int((p[skip:].argmax(-1) == y[skip:]).sum()) for p, y in zip(outputs, labels))
        accuracy[runtime] = correct / sum(max(len(y) - skip, 0) for y in labels)
    agreement = np.mean(
        np.concatenate([a.argmax(-1) == b.argmax(-1) for a, b in zip(results["int8"], results["float32"])])
    )
    frames = sum(len(y) for y in labels)
    for runtime, value in accuracy.items():
        name = "SavedModel" if runtime == "savedmodel" else runtime
        target = f">= float32 - {gap:.2f}" if runtime == "int8" and gap else ""
        ok = value >= accuracy["float32"] - gap - 1e-9 if target else None
        row(f"{label}: {name} per-{unit} accuracy", f"{value:.4f}", "", None, "", target, ok)
    row(f"{label}: int8 top label = float32's, all {frames} {unit}s", f"{agreement:.4f}", "", None, "", "", None)


def embedded_rows(row, source: pathlib.Path, lite: pathlib.Path) -> None:
    rebuilt_config = rebuild.typed_config("video", rebuild.read_settings(source))
    data = calibration.load_data("video", rebuilt_config)
    clips, labels = zip(*[(c.numpy(), y.numpy()) for c, y in data.test])
    results = video_probabilities(source, lite, list(clips))
    label = f"video v{source.name}, embedded test ({len(clips)} clips)"
    accuracy_rows(row, label, results, list(labels), rebuilt_config.data.num_frames // 4, 0.01)


def image_rows(row, source: pathlib.Path, lite: pathlib.Path) -> None:
    import tensorflow as tf  # deferred, as above

    config = rebuild.typed_config("image", rebuild.read_settings(source))
    data = calibration.load_data("image", config)
    images, labels = zip(*[(x.numpy(), int(y.numpy())) for x, y in data.test])
    serve = tf.saved_model.load(str(source)).signatures["serving_default"]
    batches = [np.stack(images[start : start + 32]) for start in range(0, len(images), 32)]
    results = {"savedmodel": [np.concatenate([serve(images=tf.constant(b))["probabilities"].numpy() for b in batches])]}
    for precision, model in _models(lite).items():
        results[precision] = [np.stack([model(image=x[np.newaxis])["probabilities"][0] for x in images])]
    accuracy_rows(
        row,
        f"image v{source.name} ({config.model.encoder}), {len(images)} test photos",
        results,
        [np.array(labels)],
        0,
        None,
        "photo",
    )


def _read_video(path: pathlib.Path, size: int) -> np.ndarray:
    from models import resizing  # deferred: Keras, as TensorFlow above

    capture, frames = cv2.VideoCapture(str(path)), []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    return resizing.resize_uint8(np.stack(frames), size).numpy()


def weizmann_rows(row, which: str) -> None:
    if which == "none":
        return
    if not WEIZMANN.is_dir():
        print(f"litert: weizmann4 skipped, no dataset at {WEIZMANN}", file=sys.stderr)
        return
    groups = real_actions._files_by_group(WEIZMANN, GROUP_PATTERN)
    held_out = sorted(groups) if which == "all" else [which]
    results, labels = {}, []
    with tempfile.TemporaryDirectory() as temporary:
        for actor in held_out:
            work = pathlib.Path(temporary) / actor
            work.mkdir()
            real_actions.run_fold(WEIZMANN, GROUP_PATTERN, actor, groups, work, [])
            source, lite = ensure_lite(work / "export", "video")
            config = rebuild.typed_config("video", rebuild.read_settings(source))
            classes = rebuild.class_names_of(source)
            videos = [_read_video(p, config.model.frame_size) for p in groups[actor]]
            for runtime, outputs in video_probabilities(source, lite, videos).items():
                results.setdefault(runtime, []).extend(outputs)
            labels += [
                np.full(len(v), classes.index(p.relative_to(WEIZMANN).parts[0])) for v, p in zip(videos, groups[actor])
            ]
    label = f"weizmann4, {'+'.join(held_out)} never seen ({len(labels)} videos)"
    accuracy_rows(row, label, results, labels, config.data.num_frames // 4, 0.02)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = cli.ArgumentParser(prog="python -m bench litert")
    parser.add_argument("--export-dir", default=str(PROJECT_ROOT / "export"))
    parser.add_argument("--calls", type=int, default=1000, help="timed calls per runtime and repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--weizmann", default="actor0", help="held-out actor, all, or none")
    args = parser.parse_args(argv)
    export_root = pathlib.Path(args.export_dir)
    row = Rows("litert (1 thread, 1 frame a call)")
    video = ensure_lite(export_root, "video")
    if video is None:
        print(f"litert: no video export under {export_root}; run make train-video", file=sys.stderr)
    else:
        latency_rows(row, f"video v{video[0].name}", *video, args.calls, args.repeats, video=True)
        size_rows(row, f"video v{video[0].name}", video[1], video=True)
        embedded_rows(row, *video)
    image = ensure_lite(export_root, "image")
    if image is not None:
        latency_rows(row, f"image v{image[0].name}", *image, max(args.calls // 10, 20), args.repeats, video=False)
        size_rows(row, f"image v{image[0].name}", image[1], video=False)
        image_rows(row, *image)
    weizmann_rows(row, args.weizmann)
    return row


if __name__ == "__main__":
    print(format_table(main(sys.argv[1:])))
