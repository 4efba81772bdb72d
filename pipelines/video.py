"""Video pipeline (CNN + LSTM/GRU, a label per frame): data → train → evaluate → export for TF Serving.

make train-video                      # embedded moving shapes, ≈4 min on 2 cores; test clip accuracy ≈ 0.99,
                                      # per-frame ≈ 0.99 (after the first quarter); frame-only CNN ≈ 0.3
make train-video PRESET=tiny          # well under a minute; smoke test
make train-video CELL=gru
make train-video DATASET=path/to/folder_of_class_folders_of_videos
make train-video DATASET=tfds:ucf101/ucf101_1_256   # when prepared locally or online
python -m pipelines.video --help

Accuracy is reported per clip (the mean probability over the frames after the first quarter) and
per frame (frames after the first quarter: before that, no model can know the motion yet), for the
recurrent model and for the frame-only baseline (the same CNN, no recurrence) trained in the same run.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
import sys
from collections.abc import Sequence

from common import cli
from common import config as config_lib
from pipelines.configs.video import PRESETS, VideoConfig
from pipelines.training import command
from pipelines.training.workspace import Workspace


def main(argv: Sequence[str] | None = None) -> int:
    return command.train_main(
        "python -m pipelines.video", __doc__.splitlines()[0], VideoConfig, PRESETS, train_and_export, argv
    )


def _batches(config: VideoConfig, data):
    """Batched train/validation/test datasets; training clips augmented per clip when asked."""
    from pipelines.datasets import augment, pipeline  # deferred: TensorFlow (see train_and_export)

    settings = config.data
    clip_augment = (
        augment.make_clip_augment(settings.crop_scale, settings.brightness, settings.contrast, settings.flip)
        if config.augmented
        else None
    )
    batch = dict(batch_size=config.training.batch_size, seed=config.seed)
    train = pipeline.batched(
        data.train, training=True, cache=data.cache, shuffle_buffer=4096, augment=clip_augment, **batch
    )
    validation = pipeline.batched(data.validation, training=False, **batch)
    test = pipeline.batched(data.test, training=False, **batch)
    return train, validation, test


def _train(config: VideoConfig, data, train, validation, run, strategy):
    """Trains the hybrid model; a pretrained encoder is first frozen, then fine-tuned at a lower rate.

    Returns the model, the history of both phases, seconds in ``fit`` and where the encoder
    weights came from.
    """
    # Deferred: TensorFlow (see train_and_export).
    from models import backbones, video_cnn_rnn
    from pipelines.training import encoder_weights, trainer, video_transfer

    loaded = {}
    training = config.training

    def build_model():
        model = video_cnn_rnn.build_video_cnn_rnn(config.model, len(data.class_names))
        loaded["from"] = encoder_weights.load(model, config.model)
        return model

    backup = run.backup_dir(config)
    if config.model.encoder_weights.strip().lower() in ("", "none") or not training.frozen_epochs:
        model, history, seconds = trainer.fit(build_model, train, validation, training, run.directory, strategy, backup)
        return model, history, seconds, loaded.get("from")

    frozen_dir = run.directory / "frozen_encoder"
    frozen_dir.mkdir()
    # Folders and tfds: no early stop in the frozen phase either (VideoConfig.resolved says why).
    patience = training.frozen_epochs if config.data.dataset else training.patience
    frozen_config = config_lib.replace(config, epochs=training.frozen_epochs, patience=patience)
    frozen_train, frozen_validation = train, validation
    if config.model.encoder == "small_cnn":  # an image run's CNN: the whole frame encoder frozen

        def build_frozen():
            model = build_model()
            model.get_layer("frame_encoder").trainable = False
            return model

    else:  # a backbone: frozen and run once per frame, the layers above it trained on its cached maps
        with strategy.scope():
            model = build_model()
        build_frozen, cached = video_transfer.frozen_model_builder(model, config, data)
        frozen_train, frozen_validation = cached or (train, validation)
    frozen, frozen_history, frozen_seconds = trainer.fit(
        build_frozen,
        frozen_train,
        frozen_validation,
        frozen_config.training,
        frozen_dir,
        strategy,
        run.backup_dir(frozen_config, "frozen"),
    )
    if config.model.encoder == "small_cnn":
        model = frozen
    elif not config.model.fine_tune_fraction:
        return model, frozen_history, frozen_seconds, loaded.get("from")
    logging.info("fine-tuning the encoder at learning rate %g", training.fine_tune_learning_rate)

    def build_unfrozen():
        model.get_layer("frame_encoder").trainable = True
        if config.model.encoder != "small_cnn":  # the top of the backbone, its BatchNorm on ImageNet statistics
            backbone = model.get_layer("frame_encoder").get_layer("backbone")
            backbones.set_trainable(backbone, config.model.fine_tune_fraction)
        return model

    tune = dataclasses.replace(training, learning_rate=training.fine_tune_learning_rate)
    model, history, seconds = trainer.fit(build_unfrozen, train, validation, tune, run.directory, strategy, backup)
    history = {key: frozen_history.get(key, []) + values for key, values in history.items()}
    return model, history, frozen_seconds + seconds, loaded.get("from")


def _evaluate(model, make_predictor, config: VideoConfig, data, test) -> dict:
    """Clip metrics on the test clips and, for folders, per video and per frame over whole videos."""
    from pipelines.evaluation import metrics, video_evaluation  # deferred: TensorFlow (see train_and_export)

    probabilities, labels = metrics.predict_labels(model, test)
    results = video_evaluation.clip_metrics(probabilities, labels, data.class_names)
    if data.videos:
        results["video_accuracy"] = video_evaluation.video_accuracy(probabilities, labels, data.clip_videos["test"])
        results["whole_videos"] = video_evaluation.whole_video_metrics(
            make_predictor(), data.videos["test"], config.data.num_frames, data.class_names
        )
    return results


def _frame_baseline(model_config, num_classes: int):
    """The frame-only CNN; on a backbone, the same pretrained weights, frozen (it trains the layers above)."""
    from models import video_cnn_rnn  # deferred: TensorFlow (see train_and_export)
    from pipelines.training import encoder_weights

    baseline = video_cnn_rnn.build_frame_baseline(model_config, num_classes)
    if model_config.encoder != "small_cnn" and encoder_weights.load(baseline, model_config):
        baseline.get_layer("frame_encoder").get_layer("backbone").trainable = False
    return baseline


def train_and_export(config: VideoConfig, workspace: Workspace):
    """Trains, evaluates and (into ``workspace.export_dir`` when set) exports; returns a ``run_folder.TrainResult``.

    The config is resolved first (its automatic values filled in); the run saves, exports and
    returns the resolved one."""
    # Deferred: TensorFlow loads only once main has checked the config.

    from pipelines.datasets import video_sources
    from pipelines.evaluation import baselines, video_evaluation
    from pipelines.training import run_folder, trainer
    from serving.export import video_export

    config = config.resolved()
    strategy = workspace.start(config.seed)
    data = video_sources.load(config.data, config.model.frame_size, config.seed)
    run = run_folder.create(workspace, "video", config, data)

    train, validation, test = _batches(config, data)
    num_classes = len(data.class_names)
    model_config = config.model
    model, history, fit_seconds, weights_from = _train(config, data, train, validation, run, strategy)
    metrics = {
        "test": _evaluate(model, lambda: video_evaluation.stream_predictor(model, model_config), config, data, test),
        "model": f"CNN ({model_config.encoder}) + {model_config.cell.upper()} ({model.count_params()} parameters)",
        "fit_seconds": round(fit_seconds, 1),
        "epochs_run": len(history.get("loss", [])),
        "parameters": int(model.count_params()),
        "encoder_weights": weights_from,
        "dataset": data.description,
        "split": data.split_description or None,
        "sizes": data.sizes,
        "videos": data.num_videos,
        "class_names": data.class_names,
    }
    if config.training.baseline_epochs:
        baseline_dir = run.directory / "frame_baseline"
        baseline_dir.mkdir()
        baseline_config = config_lib.replace(config, epochs=config.training.baseline_epochs)
        baseline, _, baseline_seconds = trainer.fit(
            lambda: _frame_baseline(model_config, num_classes),
            train,
            validation,
            baseline_config.training,
            baseline_dir,
            strategy,
            run.backup_dir(baseline_config, "baseline"),
        )
        baseline_metrics = _evaluate(baseline, lambda: video_evaluation.chunk_predictor(baseline), config, data, test)
        metrics["baseline"] = {
            "name": "frame-only CNN (same encoder, no recurrence)",
            "fit_seconds": round(baseline_seconds, 1),
            **{k: v for k, v in baseline_metrics.items() if "confusion" not in k},
        }
    if data.videos:
        metrics["classical_baseline"] = baselines.frame_difference_logistic_regression(
            data.videos["train"],
            data.videos["test"],
            skip_frames=config.data.num_frames // 4,
            seed=config.seed,
        )
    if workspace.export_dir:
        sample = next(iter(data.test.batch(2)))[0].numpy()
        version_dir, differences = video_export.export_video_model(
            model, model_config, data.class_names, config_lib.to_dict(config), workspace.export_dir, sample
        )
        metrics["export"] = {"path": str(version_dir), "reload_max_difference": differences}
    run_folder.write_run_outputs(
        run.directory, config, metrics, history, data.class_names, f"video CNN+{model_config.cell.upper()}"
    )
    return _result(run.directory, metrics)


def _result(run_dir: pathlib.Path, metrics: dict):
    """Per clip, per frame and per video against the frame-only and classical baselines."""
    from pipelines.training import run_folder  # deferred with the training imports (Matplotlib)

    test, baseline, classical = metrics["test"], metrics.get("baseline", {}), metrics.get("classical_baseline")
    whole = test.get("whole_videos")

    def rounded(value):
        return None if value is None else round(value, 4)

    summary = {
        "test_clip_accuracy": rounded(test["clip_accuracy"]),
        "test_frame_accuracy": rounded(test["frame_accuracy_after_first_quarter"]),
        "test_video_accuracy": rounded(test.get("video_accuracy")),
        "test_whole_video_frame_accuracy": rounded(whole["frame_accuracy"]) if whole else None,
        "baseline_clip_accuracy": rounded(baseline.get("clip_accuracy")),
        "baseline_frame_accuracy": rounded(baseline.get("frame_accuracy_after_first_quarter")),
        "classical_video_accuracy": rounded(classical["video_accuracy"]) if classical else None,
        "classical_frame_accuracy": rounded(classical["frame_accuracy"]) if classical else None,
        "run_dir": str(run_dir),
        "export": metrics.get("export", {}).get("path"),
    }
    line = (
        f"test clip accuracy {test['clip_accuracy']:.4f}, per-frame accuracy (after the first quarter) "
        f"{test['frame_accuracy_after_first_quarter']:.4f}"
    )
    if whole:
        line += f"; per video {test['video_accuracy']:.4f}, per frame over whole videos {whole['frame_accuracy']:.4f}"
    if baseline:
        line += (
            f" (frame-only baseline: clip {baseline['clip_accuracy']:.4f}, "
            f"per-frame {baseline['frame_accuracy_after_first_quarter']:.4f})"
        )
    if classical:
        line += (
            f" (classical: per video {classical['video_accuracy']:.4f}, per frame {classical['frame_accuracy']:.4f})"
        )
    export_path = metrics.get("export", {}).get("path")
    sentence = line + f"; run folder {run_dir}" + (f"; exported to {export_path}" if export_path else "")
    return run_folder.TrainResult(run_dir, metrics, summary, sentence)


if __name__ == "__main__":
    sys.exit(cli.run(main))
