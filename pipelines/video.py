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
import json
import logging
import pathlib
import sys
from collections.abc import Sequence

from common import cli
from common import config as config_lib
from common.errors import UserError
from pipelines.datasets import checks


@dataclasses.dataclass(frozen=True)
class VideoConfig:
    """Every setting of the video pipeline (presets below; override with --field or --set)."""

    dataset: str = dataclasses.field(
        default="", metadata={"help": "'' (embedded moving shapes), tfds:NAME or a folder of class folders of videos"}
    )
    group_pattern: str = config_lib.group_pattern_field()
    split_files: str = config_lib.split_files_field()
    num_frames: int = dataclasses.field(default=16, metadata={"help": "frames per training clip"})
    frame_stride: int = dataclasses.field(default=1, metadata={"help": "sample every Nth frame of a video file"})
    frame_size: int = dataclasses.field(
        default=0,
        metadata={"help": "model frame height and width; 0 = 32 for the embedded clips, 16 for folders and tfds"},
    )
    encoder: str = dataclasses.field(
        default="small_cnn", metadata={"help": "frame encoder: small_cnn, mobilenet_v3_small or efficientnet_b0"}
    )
    encoder_weights: str = dataclasses.field(
        default="none", metadata={"help": "imagenet, a weights file, an image run folder, or none"}
    )
    frozen_epochs: int = dataclasses.field(
        default=3, metadata={"help": "with pretrained encoder weights: epochs with the encoder frozen first"}
    )
    fine_tune_learning_rate: float = dataclasses.field(
        default=2e-4, metadata={"help": "learning rate once a pretrained encoder is unfrozen"}
    )
    filters: tuple[int, ...] = dataclasses.field(
        default=(), metadata={"help": "channels per conv block; empty = 16, 32, ... down to a 4x4 map"}
    )
    convs_per_block: int = 1
    dense_units: int = dataclasses.field(default=64, metadata={"help": "frame feature size"})
    dropout: float = 0.2
    cell: str = dataclasses.field(default="lstm", metadata={"help": "lstm or gru"})
    units: int = dataclasses.field(default=64, metadata={"help": "recurrent units"})
    feature_difference: bool = dataclasses.field(
        default=True, metadata={"help": "also feed the recurrent layer each frame's feature change since the last"}
    )
    pixel_difference: bool = dataclasses.field(
        default=True,
        metadata={"help": "small_cnn: the CNN also sees each frame's change since the last (backbones: off)"},
    )
    color: str = dataclasses.field(
        default="auto",
        metadata={
            "help": "small_cnn: on (RGB) or off (grey: a recording's background colour cannot stand in for the "
            "action); auto = off for folders and tfds, on for the embedded clips and with pretrained weights"
        },
    )
    epochs: int = dataclasses.field(
        default=0, metadata={"help": "0 = 10 for the embedded clips, 30 for folders and tfds"}
    )
    baseline_epochs: int = dataclasses.field(
        default=2,
        metadata={
            "help": "epochs of the frame-only baseline (it stays at chance: one frame cannot show motion); 0 = skip"
        },
    )
    batch_size: int = 32
    learning_rate: float = 2e-3
    patience: int = dataclasses.field(
        default=0,
        metadata={
            "help": "early-stopping patience in epochs; 0 = 5 for the embedded clips, none for folders and tfds "
            "(the best validation epoch is kept either way)"
        },
    )
    min_clips_per_epoch: int = dataclasses.field(
        default=512, metadata={"help": "folders: an epoch repeats the training videos' clips up to this many"}
    )
    augment: str = dataclasses.field(
        default="auto", metadata={"help": "on, off, or auto (on for folders and tfds, off for the embedded data)"}
    )
    flip: bool = dataclasses.field(default=False, metadata={"help": "random horizontal flips (left becomes right)"})
    crop_scale: float = dataclasses.field(default=0.8, metadata={"help": "smallest random crop, as a fraction"})
    brightness: float = 0.2
    contrast: float = 0.3
    cache_dir: str = dataclasses.field(default="", metadata={"help": "decoded-frame cache; '' = data/video_cache"})
    cache_max_gb: float = dataclasses.field(default=4.0, metadata={"help": "bound of the decoded-frame cache"})
    max_train_examples: int = dataclasses.field(default=0, metadata={"help": "cap on training clips; 0 = all"})
    max_eval_examples: int = dataclasses.field(
        default=0, metadata={"help": "cap on validation and test clips each; 0 = all"}
    )
    seed: int = 0

    def resolved(self) -> VideoConfig:
        """The config with its automatic values filled in (what a run saves and exports).

        Frame size: real footage is usually a small dataset, and on it the CNN learns the people
        and places at 32x32 but the motion at 16x16 (measured on weizmann4, people never seen:
        README, "Video on real footage"); the embedded shapes are too small for 16x16.
        Filters: one block per halving down to a 4x4 map, starting at 16 channels.
        Colour: off (grey) for real footage with the small CNN. Each action of a person tends to be
        recorded at its own time and place, and in colour the CNN learns the background instead
        of the motion: on weizmann4, people never seen, grey took the hybrid from 0.85 to 0.95
        per video, the mean of three runs (README, "Video on real footage").
        Epochs and patience: a folder's validation split is a few people, and its loss jumps from
        epoch to epoch (x2 up and down is common before it settles), so early stopping on it stops
        near the start. Folders and tfds train 30 epochs with no early stop, keeping the epoch of
        best validation loss (grey frames on weizmann4, one seed: 0.92 per video stopping, 0.98 not).
        """
        from models import frame_encoders

        frame_size = self.frame_size
        if not frame_size:
            backbone = frame_encoders.BACKBONES.get(self.encoder)
            frame_size = backbone[2] if backbone else (32 if not self.dataset else 16)
        filters = self.filters or tuple(16 * 2**block for block in range(max(1, frame_size.bit_length() - 3)))
        small_cnn = self.encoder == "small_cnn"
        pixel_difference = self.pixel_difference and small_cnn  # a backbone takes 3 channels
        color = self.color
        if color == "auto":  # pretrained weights (an image run's, ImageNet's) were learnt on RGB
            color = "off" if small_cnn and self.dataset and self.encoder_weights == "none" else "on"
        epochs = self.epochs or (30 if self.dataset else 10)
        patience = self.patience or (epochs if self.dataset else 5)
        return dataclasses.replace(
            self,
            frame_size=frame_size,
            filters=filters,
            pixel_difference=pixel_difference,
            color=color,
            epochs=epochs,
            patience=patience,
        )

    def validate(self) -> None:
        from models import frame_encoders
        from pipelines.datasets import groups

        groups.check_pattern(self.group_pattern)
        self = self.resolved()

        if self.encoder not in frame_encoders.ENCODERS:
            raise UserError(f"encoder must be one of {', '.join(frame_encoders.ENCODERS)}, got '{self.encoder}'")
        if self.encoder in frame_encoders.BACKBONES:
            _, smallest, suits = frame_encoders.BACKBONES[self.encoder]
            if self.frame_size < smallest:
                raise UserError(
                    f"{self.encoder} needs frame_size >= {smallest}; {suits} suits it (--frame-size {suits})"
                )
        if self.color not in ("on", "off"):
            raise UserError(f"color must be auto, on or off, got '{self.color}'")
        if self.color == "off" and self.encoder != "small_cnn":
            raise UserError(f"{self.encoder} takes RGB frames; --color off is for the small CNN")
        if self.augment not in ("auto", "on", "off"):
            raise UserError(f"augment must be auto, on or off, got '{self.augment}'")
        if not 0.1 <= self.crop_scale <= 1 or self.brightness < 0 or not 0 <= self.contrast < 1:
            raise UserError("crop_scale must be in [0.1, 1], brightness >= 0 and contrast in [0, 1)")
        if self.cell not in ("lstm", "gru"):
            raise UserError(f"cell must be lstm or gru, got '{self.cell}'")
        if self.frame_size < 8 or self.frame_size >> len(self.filters) < 1:
            raise UserError(f"frame_size {self.frame_size} is too small for {len(self.filters)} pooling blocks")
        if not self.filters or any(f <= 0 for f in self.filters):
            raise UserError("filters must be a comma-separated list of positive integers, e.g. 16,32,64")
        if self.num_frames < 2 or self.frame_stride < 1:
            raise UserError("num_frames must be at least 2 and frame_stride at least 1")
        if self.epochs < 1 or self.batch_size < 1 or self.units < 1 or self.baseline_epochs < 0:
            raise UserError("epochs, batch_size and units must be positive")
        checks.check_folder_dataset(self.dataset, "video")  # after the settings, before TensorFlow loads
        checks.check_tfds_name(self.dataset)


PRESETS = {
    "default": VideoConfig(),
    # A run of seconds for smoke tests: 8-frame clips, narrow layers, 256 clips, one epoch each.
    "tiny": VideoConfig(
        num_frames=8,
        frame_size=16,
        filters=(8, 16),
        dense_units=16,
        units=16,
        epochs=1,
        baseline_epochs=1,
        batch_size=32,
        max_train_examples=256,
        max_eval_examples=128,
        patience=1,
    ),
}


def main(argv: Sequence[str] | None = None) -> int:
    return cli.train_main(
        "python -m pipelines.video", __doc__.splitlines()[0], VideoConfig, PRESETS, train_and_export, argv
    )


def _batches(config: VideoConfig, data):
    """Batched train/validation/test datasets; training clips augmented per clip when asked."""
    from pipelines.datasets import pipeline, video_augment

    embedded = not config.dataset
    augment = config.augment == "on" or (config.augment == "auto" and not embedded)
    clip_augment = (
        video_augment.make_clip_augment(config.crop_scale, config.brightness, config.contrast, config.flip)
        if augment
        else None
    )
    batch = dict(batch_size=config.batch_size, seed=config.seed)
    train = pipeline.batched(
        data.train, training=True, cache=data.cache, shuffle_buffer=4096, augment=clip_augment, **batch
    )
    validation = pipeline.batched(data.validation, training=False, **batch)
    test = pipeline.batched(data.test, training=False, **batch)
    return train, validation, test


def _train(config: VideoConfig, data, train, validation, run_dir: pathlib.Path, runs_dir: str, strategy):
    """Trains the hybrid model; a pretrained encoder is first frozen, then fine-tuned at a lower rate.

    Returns the model, the history of both phases, seconds in ``fit`` and where the encoder
    weights came from.
    """
    from models import video_cnn_rnn
    from pipelines.training import encoder_weights, trainer

    loaded = {}

    def build_model():
        model = video_cnn_rnn.build_video_cnn_rnn(config, len(data.class_names))
        loaded["from"] = encoder_weights.load(model, config)
        return model

    backup = trainer.backup_dir_for(runs_dir, "video", config)
    if config.encoder_weights.strip().lower() in ("", "none") or not config.frozen_epochs:
        model, history, seconds = trainer.fit(build_model, train, validation, config, run_dir, strategy, backup)
        return model, history, seconds, loaded.get("from")

    def build_frozen():
        model = build_model()
        model.get_layer("frame_encoder").trainable = False
        return model

    frozen_dir = run_dir / "frozen_encoder"
    frozen_dir.mkdir()
    frozen_config = dataclasses.replace(config, epochs=config.frozen_epochs)
    model, frozen_history, frozen_seconds = trainer.fit(
        build_frozen,
        train,
        validation,
        frozen_config,
        frozen_dir,
        strategy,
        trainer.backup_dir_for(runs_dir, "video-frozen", frozen_config),
    )
    logging.info("fine-tuning the encoder at learning rate %g", config.fine_tune_learning_rate)

    def build_unfrozen():
        model.get_layer("frame_encoder").trainable = True
        return model

    tune_config = dataclasses.replace(config, learning_rate=config.fine_tune_learning_rate)
    model, history, seconds = trainer.fit(build_unfrozen, train, validation, tune_config, run_dir, strategy, backup)
    history = {key: frozen_history.get(key, []) + values for key, values in history.items()}
    return model, history, frozen_seconds + seconds, loaded.get("from")


def _evaluate(model, make_predictor, config: VideoConfig, data, test) -> dict:
    """Clip metrics on the test clips and, for folders, per video and per frame over whole videos."""
    from pipelines.evaluation import video_evaluation
    from pipelines.training import trainer

    probabilities, labels = trainer.predict_labels(model, test)
    metrics = video_evaluation.clip_metrics(probabilities, labels, data.class_names)
    if data.videos:
        metrics["video_accuracy"] = video_evaluation.video_accuracy(probabilities, labels, data.clip_videos["test"])
        metrics["whole_videos"] = video_evaluation.whole_video_metrics(
            make_predictor(), data.videos["test"], config.num_frames, data.class_names
        )
    return metrics


def train_and_export(
    config: VideoConfig, runs_dir: str, export_dir: str, export_model: bool = True, strategy=None
) -> int:
    import keras
    import tensorflow as tf

    from models import video_cnn_rnn
    from pipelines.datasets import video_sources
    from pipelines.evaluation import baselines, video_evaluation
    from pipelines.training import trainer

    config = config.resolved()
    keras.utils.set_random_seed(config.seed)
    strategy = strategy or tf.distribute.get_strategy()
    data = video_sources.load(
        config.dataset,
        config.num_frames,
        config.frame_size,
        config.frame_stride,
        config.seed,
        config.max_train_examples,
        group_pattern=config.group_pattern,
        split_files=config.split_files,
        min_clips_per_epoch=config.min_clips_per_epoch,
        cache_dir=config.cache_dir,
        cache_max_bytes=int(config.cache_max_gb * (1 << 30)),
    )
    if config.max_eval_examples:
        data.validation = data.validation.take(config.max_eval_examples)
        data.test = data.test.take(config.max_eval_examples)
        for split in ("validation", "test"):
            data.sizes[split] = min(data.sizes[split], config.max_eval_examples)
            if data.clip_videos:
                data.clip_videos[split] = data.clip_videos[split][: config.max_eval_examples]
    run_dir = trainer.make_run_dir(runs_dir, "video")
    config_lib.save(config, run_dir / "config.json")
    if data.split_rows:
        trainer.save_split_assignment(data.split_rows, run_dir / "splits.csv")
    logging.info("data: %s, classes %s, sizes %s", data.description, data.class_names, data.sizes)

    train, validation, test = _batches(config, data)
    num_classes = len(data.class_names)
    model, history, fit_seconds, weights_from = _train(config, data, train, validation, run_dir, runs_dir, strategy)
    metrics = {
        "test": _evaluate(model, lambda: video_evaluation.stream_predictor(model, config), config, data, test),
        "model": f"CNN ({config.encoder}) + {config.cell.upper()} ({model.count_params()} parameters)",
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
    if config.baseline_epochs:
        baseline_dir = run_dir / "frame_baseline"
        baseline_dir.mkdir()
        baseline_config = dataclasses.replace(config, epochs=config.baseline_epochs)
        baseline, _, baseline_seconds = trainer.fit(
            lambda: video_cnn_rnn.build_frame_baseline(config, num_classes),
            train,
            validation,
            baseline_config,
            baseline_dir,
            strategy,
            trainer.backup_dir_for(runs_dir, "video-baseline", baseline_config),
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
            skip_frames=config.num_frames // 4,
            seed=config.seed,
        )
    if export_model:
        from serving.export import video_export

        sample = next(iter(data.test.batch(2)))[0].numpy()
        version_dir, differences = video_export.export_video_model(
            model, config, data.class_names, config_lib.to_dict(config), export_dir, sample
        )
        metrics["export"] = {"path": str(version_dir), "reload_max_difference": differences}
    trainer.write_run_outputs(run_dir, config, metrics, history, data.class_names, f"video CNN+{config.cell.upper()}")
    _print_summary(metrics, run_dir)
    return 0


def _print_summary(metrics: dict, run_dir: pathlib.Path) -> None:
    """One JSON line for scripts, one sentence for people."""
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
    print(json.dumps(summary, ensure_ascii=False))
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
    print(line + f"; run folder {run_dir}" + (f"; exported to {export_path}" if export_path else ""))


if __name__ == "__main__":
    sys.exit(cli.run(main))
