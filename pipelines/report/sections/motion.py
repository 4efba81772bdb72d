"""Section 5: video, a CNN per frame and an RNN across frames, against a frame-only CNN."""

from __future__ import annotations

import json
import logging
import pathlib
import time

import numpy as np

from common import config as config_lib
from models import video_cnn_rnn
from pipelines import video
from pipelines.configs import video as video_configs
from pipelines.datasets.embedded import shape_motion
from pipelines.report import figures
from pipelines.report.content import Figure, Section, Table, new_section
from pipelines.report.sections import common
from pipelines.training import run_folder
from pipelines.training.workspace import Workspace


def motion(config, runs_dir: pathlib.Path, figures_dir: pathlib.Path) -> Section:
    section = new_section(5)
    start = time.perf_counter()
    video_config = config_lib.replace(
        video_configs.PRESETS[config.pipeline_preset],
        epochs=config.video_epochs,
        baseline_epochs=config.video_baseline_epochs,
        max_train_examples=config.video_train_examples,
        max_eval_examples=config.video_eval_examples,
        seed=config.seed,
    )
    run_dir = video.train_and_export(video_config, Workspace(runs_dir)).run_dir
    train_seconds = time.perf_counter() - start
    section.runs.append(run_dir)
    # The models are rebuilt from the config the run resolved and saved (frame size, filters, epochs
    # ...), never from the preset, whose automatic values (0 = choose) build a different model.
    video_config = config_lib.load(video_configs.VideoConfig, run_dir / "config.json")
    model_config = video_config.model
    metrics = common.metrics(run_dir)
    class_names = metrics["class_names"]
    hybrid = metrics["test"]["per_class_accuracy"]
    baseline = metrics["baseline"]["per_class_accuracy"]
    chance = 1 / len(class_names)
    what = (
        f"video CNN+{model_config.cell.upper()} "
        f"({common.describe(video_config, ('frame_size', 'filters', 'units', 'num_frames', 'feature_difference'))}), "
        f"{metrics['epochs_run']} epochs on {metrics['sizes']['train']} clips; frame-only baseline "
        f"{video_config.training.baseline_epochs} epochs"
    )
    footer = common.footer(what, config.seed, train_seconds)
    section.figures.append(
        Figure(
            figures.per_class_bars(
                class_names,
                {
                    "CNN+RNN": [hybrid[c] or 0.0 for c in class_names],
                    "frame-only CNN": [baseline[c] or 0.0 for c in class_names],
                },
                chance,
                figures_dir / "5_per_class.png",
                "per-class accuracy on the moving-shapes test split",
                footer,
            ),
            f"Per-frame test accuracy per class (frames after the first quarter of each clip, "
            f"{metrics['test']['num_clips']} test clips), from {run_dir.name}/metrics.json. {what}; "
            f"seed {config.seed}; "
            f"run time {train_seconds:.0f} s (fits {metrics['fit_seconds']:.0f} s and "
            f"{metrics['baseline']['fit_seconds']:.0f} s).",
        )
    )
    section.blocks.append(
        Table(
            ["class", "CNN+RNN", "frame-only CNN"],
            [[c, common.percent(hybrid[c] or 0.0), common.percent(baseline[c] or 0.0)] for c in class_names]
            + [
                [
                    "**all (per frame)**",
                    common.percent(metrics["test"]["frame_accuracy_after_first_quarter"]),
                    common.percent(metrics["baseline"]["frame_accuracy_after_first_quarter"]),
                ],
                [
                    "**all (per clip)**",
                    common.percent(metrics["test"]["clip_accuracy"]),
                    common.percent(metrics["baseline"]["clip_accuracy"]),
                ],
            ],
        )
    )

    # A long generated video, classified causally chunk by chunk through the stream model (the same
    # graph as the export's `stream` signature), against its ground truth.
    timeline_start = time.perf_counter()
    model = video_cnn_rnn.build_video_cnn_rnn(model_config, len(class_names))
    model.load_weights(str(run_dir / "best.weights.h5"))
    stream = video_cnn_rnn.build_stream_model(model, model_config)
    frame_only = video_cnn_rnn.build_frame_baseline(model_config, len(class_names))
    frame_only.load_weights(str(run_dir / "frame_baseline" / "best.weights.h5"))
    motions = tuple(c for c in class_names if c in shape_motion.MOTIONS)
    frames, labels = shape_motion.render_long_video(config.seed, config.long_video_segments, size=32, motions=motions)
    truth = np.array([class_names.index(shape_motion.MOTIONS[label]) for label in labels])
    states = {name: np.zeros((1, size), np.float32) for name, size in video_cnn_rnn.state_sizes(model_config).items()}
    chunk, hybrid_probabilities = 16, []
    for begin in range(0, len(frames), chunk):
        outputs = stream({"frames": frames[np.newaxis, begin : begin + chunk], **states}, training=False)
        hybrid_probabilities.append(np.asarray(outputs["probabilities"])[0])
        states = {name: np.asarray(outputs[name]) for name in states}
    hybrid_probabilities = np.concatenate(hybrid_probabilities)
    baseline_probabilities = np.asarray(frame_only(frames[np.newaxis], training=False))[0]
    hybrid_labels, baseline_labels = hybrid_probabilities.argmax(-1), baseline_probabilities.argmax(-1)
    cut = np.r_[True, truth[1:] != truth[:-1]]
    since_cut = np.zeros(len(truth), int)
    for index in range(1, len(truth)):
        since_cut[index] = 0 if cut[index] else since_cut[index - 1] + 1
    settled = since_cut >= 4
    timeline_seconds = time.perf_counter() - timeline_start
    long_accuracy = {
        "CNN+RNN": float((hybrid_labels == truth).mean()),
        "frame-only CNN": float((baseline_labels == truth).mean()),
        "CNN+RNN, 4+ frames after a cut": float((hybrid_labels == truth)[settled].mean()),
        "frame-only CNN, 4+ frames after a cut": float((baseline_labels == truth)[settled].mean()),
    }
    measurement_dir = run_folder.make_run_dir(runs_dir, "video_timeline")
    np.savez_compressed(
        measurement_dir / "timeline.npz",
        truth=truth,
        hybrid_probabilities=hybrid_probabilities,
        baseline_probabilities=baseline_probabilities,
    )
    (measurement_dir / "results.json").write_text(
        json.dumps(
            {
                "video_run": str(run_dir),
                "long_video": {"seed": config.seed, "segments": config.long_video_segments, "frames": len(truth)},
                "class_names": class_names,
                "accuracy": long_accuracy,
                "stream_chunk_frames": chunk,
                "seconds": round(timeline_seconds, 1),
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    section.runs.append(measurement_dir)
    thumbnails = [(int(i), frames[int(i)]) for i in np.linspace(0, len(frames) - 1, 8).astype(int)]
    section.figures.append(
        Figure(
            figures.label_timeline(
                {"ground truth": truth, "CNN+RNN (stream)": hybrid_labels, "frame-only CNN": baseline_labels},
                class_names,
                hybrid_probabilities[np.arange(len(truth)), truth],
                thumbnails,
                figures_dir / "5_timeline.png",
                f"long generated video: {len(truth)} frames, {config.long_video_segments} motion segments",
                common.footer(f"{what}; long video seed {config.seed}", config.seed, timeline_seconds),
            ),
            f"Per-frame labels of a long generated video (render_long_video, seed {config.seed}, "
            f"{config.long_video_segments} segments, {len(truth)} frames of 32x32, each segment a cut to a new "
            f"scene) against its ground truth; the CNN+RNN runs causally in chunks of {chunk} frames with its state "
            f"carried (the export's stream signature, in process), the frame-only CNN on each frame. Curve: the "
            f"CNN+RNN's probability of the true class. Model from run {run_dir.name}; seed {config.seed}; run time "
            f"{timeline_seconds:.0f} s.",
        )
    )
    section.blocks.append(
        "Long video, per-frame accuracy: "
        + "; ".join(f"{name} {value:.3f}" for name, value in long_accuracy.items())
        + ". Right after a cut the recurrent model still carries the previous segment, so its first frames of a "
        "segment are often wrong; '4+ frames after a cut' leaves those out."
    )
    per_frame = metrics["test"]["frame_accuracy_after_first_quarter"]
    per_frame_baseline = metrics["baseline"]["frame_accuracy_after_first_quarter"]
    num_frames = video_config.data.num_frames
    margin = common.margin(metrics["test"]["num_clips"] * (num_frames - num_frames // 4))
    class_margin = common.margin(metrics["test"]["num_clips"] // len(class_names))
    # Every motion understood: each class well above chance (a per-class comparison with the baseline
    # would reward a baseline that answers one class for every frame with 1.0 on that class).
    understood = [c for c in class_names if (hybrid[c] or 0) > chance + common.LEARNT + class_margin]
    constant = (
        [c for c in class_names if (baseline[c] or 0) > 0.9]
        if sum((baseline[c] or 0) > 0.1 for c in class_names) == 1
        else []
    )
    detail = (
        f"test per-frame accuracy {per_frame:.3f} vs {per_frame_baseline:.3f} frame-only (chance {chance:.3f}); "
        f"the hybrid is well above chance on {len(understood)} of {len(class_names)} motions; long video "
        f"{long_accuracy['CNN+RNN']:.3f} vs {long_accuracy['frame-only CNN']:.3f}."
        + (
            f" The frame-only CNN answers '{constant[0]}' for (almost) every frame: one frame does not show the "
            "motion, so it falls back to a constant guess (hence its 1.0 on that class)."
            if constant
            else ""
        )
    )
    if common.inconclusive(section, "the CNN+RNN", per_frame, chance):
        pass
    elif per_frame > per_frame_baseline + margin and len(understood) == len(class_names):
        section.verdict, section.verdict_reason = "supported", detail
    elif per_frame > per_frame_baseline + margin:
        section.verdict, section.verdict_reason = "partly supported", detail
    else:
        section.verdict, section.verdict_reason = "not supported", detail
    logging.info("report section 5: %s", detail)
    return section
