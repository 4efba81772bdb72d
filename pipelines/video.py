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

from pipelines import cli
from pipelines.errors import UserError


@dataclasses.dataclass(frozen=True)
class VideoConfig:
    """Every setting of the video pipeline (presets below; override with --field or --set)."""

    dataset: str = dataclasses.field(
        default="", metadata={"help": "'' (embedded moving shapes), tfds:NAME or a folder of class folders of videos"}
    )
    num_frames: int = dataclasses.field(default=16, metadata={"help": "frames per training clip"})
    frame_stride: int = dataclasses.field(default=1, metadata={"help": "sample every Nth frame of a video file"})
    frame_size: int = dataclasses.field(default=32, metadata={"help": "model frame height and width"})
    filters: tuple[int, ...] = dataclasses.field(default=(16, 32, 64), metadata={"help": "channels per conv block"})
    convs_per_block: int = 1
    dense_units: int = dataclasses.field(default=64, metadata={"help": "frame feature size"})
    dropout: float = 0.2
    cell: str = dataclasses.field(default="lstm", metadata={"help": "lstm or gru"})
    units: int = dataclasses.field(default=64, metadata={"help": "recurrent units"})
    feature_difference: bool = dataclasses.field(
        default=True, metadata={"help": "also feed the recurrent layer each frame's feature change since the last"}
    )
    epochs: int = 12
    baseline_epochs: int = dataclasses.field(
        default=2,
        metadata={
            "help": "epochs of the frame-only baseline (it stays at chance: one frame cannot show motion); 0 = skip"
        },
    )
    batch_size: int = 32
    learning_rate: float = 2e-3
    patience: int = dataclasses.field(default=3, metadata={"help": "early-stopping patience in epochs"})
    max_train_examples: int = dataclasses.field(default=0, metadata={"help": "cap on training clips; 0 = all"})
    max_eval_examples: int = dataclasses.field(
        default=0, metadata={"help": "cap on validation and test clips each; 0 = all"}
    )
    encoder_init: str = dataclasses.field(
        default="", metadata={"help": "image run folder (config.json + best.weights.h5) to initialise the CNN from"}
    )
    seed: int = 0

    def validate(self) -> None:
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


def clip_metrics(probabilities, labels, class_names: list[str]) -> dict:
    """Per-frame accuracy after the first quarter of each clip, and clip accuracy.

    Args:
        probabilities: (clips, time, classes); labels: (clips, time).

    A clip's prediction is the class with the highest mean probability over the frames after
    the first quarter; its label is its last frame's.
    """
    import numpy as np

    from pipelines import training

    start = probabilities.shape[1] // 4
    late = training.classification_metrics(probabilities[:, start:], labels[:, start:], class_names)
    clip_predictions = probabilities[:, start:].mean(axis=1).argmax(-1)
    return {
        "clip_accuracy": float((clip_predictions == labels[:, -1]).mean()),
        "frame_accuracy_after_first_quarter": late["accuracy"],
        "frame_accuracy_all": float((probabilities.argmax(-1) == labels).mean()),
        "frame_accuracy_by_position": [round(float(a), 4) for a in (probabilities.argmax(-1) == labels).mean(axis=0)],
        "num_clips": int(len(labels)),
        "accuracy": late["accuracy"],  # for the confusion-matrix plot title
        "per_class_accuracy": late["per_class_accuracy"],
        "confusion_matrix": late["confusion_matrix"],
        "clip_confusion_matrix": np.asarray(
            training.classification_metrics(np.eye(len(class_names))[clip_predictions], labels[:, -1], class_names)[
                "confusion_matrix"
            ]
        ).tolist(),
    }


def initialise_encoder(model, run_folder: str, config: VideoConfig) -> str:
    """Copies the CNN encoder weights of a trained image run into the video model's frame encoder."""
    from models import cnn
    from pipelines.image import ImageConfig

    folder = pathlib.Path(run_folder).expanduser()
    weights, config_file = folder / "best.weights.h5", folder / "config.json"
    if not weights.exists() or not config_file.exists():
        raise UserError(f"encoder_init '{run_folder}' must be an image run folder with config.json and best.weights.h5")
    image_values = json.loads(config_file.read_text())
    known = {f.name for f in dataclasses.fields(ImageConfig)}
    image_config = ImageConfig(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in image_values.items() if k in known}
    )
    wanted = {
        "frame_size": image_config.image_size,
        "filters": tuple(image_config.filters),
        "convs_per_block": image_config.convs_per_block,
        "dense_units": image_config.dense_units,
    }
    mismatched = {k: v for k, v in wanted.items() if getattr(config, k) != v}
    if mismatched or image_config.head != "flatten" or image_config.pooling != "max":
        flags = " ".join(
            f"--{k.replace('_', '-')} {','.join(map(str, v)) if isinstance(v, tuple) else v}"
            for k, v in mismatched.items()
        )
        raise UserError(f"the image run's CNN differs from the video encoder; match it with: {flags}")
    image_model = cnn.build_image_classifier(image_config, len(image_values.get("class_names", [])) or 1)
    try:
        image_model.load_weights(str(weights), skip_mismatch=True)
    except Exception as error:  # noqa: BLE001 - a foreign or corrupt file: say so in one line
        raise UserError(f"cannot load {weights}: {str(error).splitlines()[0]}") from None
    model.get_layer("frame_encoder").set_weights(image_model.get_layer("cnn_encoder").get_weights())
    return str(weights)


def train_and_export(
    config: VideoConfig, runs_dir: str, export_dir: str, export_model: bool = True, strategy=None
) -> int:
    import keras
    import tensorflow as tf

    from models import video_cnn_rnn
    from pipelines import config as config_lib
    from pipelines import training
    from pipelines.datasets import pipeline, video_sources

    keras.utils.set_random_seed(config.seed)
    strategy = strategy or tf.distribute.get_strategy()
    data = video_sources.load(
        config.dataset,
        config.num_frames,
        config.frame_size,
        config.frame_stride,
        config.seed,
        config.max_train_examples,
    )
    if config.max_eval_examples:
        data.validation = data.validation.take(config.max_eval_examples)
        data.test = data.test.take(config.max_eval_examples)
        for split in ("validation", "test"):
            data.sizes[split] = min(data.sizes[split], config.max_eval_examples)
    run_dir = training.make_run_dir(runs_dir, "video")
    config_lib.save(config, run_dir / "config.json")
    logging.info("data: %s, classes %s, sizes %s", data.description, data.class_names, data.sizes)

    batch = dict(batch_size=config.batch_size, seed=config.seed)
    train = pipeline.batched(data.train, training=True, cache=data.cache, shuffle_buffer=4096, **batch)
    validation = pipeline.batched(data.validation, training=False, **batch)
    test = pipeline.batched(data.test, training=False, **batch)
    num_classes = len(data.class_names)

    initialised_from = []

    def build_model():
        model = video_cnn_rnn.build_video_cnn_rnn(config, num_classes)
        if config.encoder_init:
            initialised_from.append(initialise_encoder(model, config.encoder_init, config))
        return model

    model, history, fit_seconds = training.fit(
        build_model, train, validation, config, run_dir, strategy, training.backup_dir_for(runs_dir, "video", config)
    )
    probabilities, labels = training.predict_labels(model, test)
    metrics = {
        "test": clip_metrics(probabilities, labels, data.class_names),
        "model": f"CNN + {config.cell.upper()} ({model.count_params()} parameters)",
        "fit_seconds": round(fit_seconds, 1),
        "epochs_run": len(history.get("loss", [])),
        "parameters": int(model.count_params()),
        "encoder_initialised_from": initialised_from[0] if initialised_from else None,
        "dataset": data.description,
        "sizes": data.sizes,
        "class_names": data.class_names,
    }
    if config.baseline_epochs:
        baseline_dir = run_dir / "frame_baseline"
        baseline_dir.mkdir()
        baseline_config = dataclasses.replace(config, epochs=config.baseline_epochs)
        baseline, _, baseline_seconds = training.fit(
            lambda: video_cnn_rnn.build_frame_baseline(config, num_classes),
            train,
            validation,
            baseline_config,
            baseline_dir,
            strategy,
            training.backup_dir_for(runs_dir, "video-baseline", baseline_config),
        )
        baseline_probabilities, _ = training.predict_labels(baseline, test)
        baseline_metrics = clip_metrics(baseline_probabilities, labels, data.class_names)
        metrics["baseline"] = {
            "name": "frame-only CNN (same encoder, no recurrence)",
            "fit_seconds": round(baseline_seconds, 1),
            **{k: v for k, v in baseline_metrics.items() if "confusion" not in k},
        }
    if export_model:
        from serving import video_export

        sample = next(iter(data.test.batch(2)))[0].numpy()
        version_dir, differences = video_export.export_video_model(
            model, config, data.class_names, config_lib.to_dict(config), export_dir, sample
        )
        metrics["export"] = {"path": str(version_dir), "reload_max_difference": differences}
    training.write_run_outputs(run_dir, config, metrics, history, data.class_names, f"video CNN+{config.cell.upper()}")
    test_metrics, baseline_metrics = metrics["test"], metrics.get("baseline", {})
    summary = {
        "test_clip_accuracy": round(test_metrics["clip_accuracy"], 4),
        "test_frame_accuracy": round(test_metrics["frame_accuracy_after_first_quarter"], 4),
        "baseline_clip_accuracy": round(baseline_metrics["clip_accuracy"], 4) if baseline_metrics else None,
        "baseline_frame_accuracy": (
            round(baseline_metrics["frame_accuracy_after_first_quarter"], 4) if baseline_metrics else None
        ),
        "run_dir": str(run_dir),
        "export": metrics.get("export", {}).get("path"),
    }
    print(json.dumps(summary, ensure_ascii=False))
    line = (
        f"test clip accuracy {test_metrics['clip_accuracy']:.4f}, per-frame accuracy (after the first quarter) "
        f"{test_metrics['frame_accuracy_after_first_quarter']:.4f}"
    )
    if baseline_metrics:
        line += (
            f" (frame-only baseline: clip {baseline_metrics['clip_accuracy']:.4f}, "
            f"per-frame {baseline_metrics['frame_accuracy_after_first_quarter']:.4f})"
        )
    print(line + f"; run folder {run_dir}" + (f"; exported to {metrics['export']['path']}" if export_model else ""))
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
