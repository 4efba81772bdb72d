"""Image CNN pipeline: data → train → evaluate → export for TF Serving.

make train-image                      # embedded shapes, ~3 min on 2 cores, test accuracy ≈ 0.99
make train-image PRESET=tiny          # seconds; smoke test
make train-image DATASET=path/to/folder_of_class_folders
make train-image DATASET=tfds:mnist   # when prepared locally or online
python -m pipelines.image --help
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Sequence

from common import cli
from common import config as config_lib
from common.errors import UserError
from pipelines.datasets import checks


@dataclasses.dataclass(frozen=True)
class ImageConfig:
    """Every setting of the image pipeline (presets below; override with --field or --set)."""

    dataset: str = dataclasses.field(default="", metadata={"help": "'' (embedded shapes), tfds:NAME or a folder"})
    group_pattern: str = config_lib.group_pattern_field()
    split_files: str = config_lib.split_files_field()
    image_size: int = dataclasses.field(default=48, metadata={"help": "model input height and width"})
    filters: tuple[int, ...] = dataclasses.field(default=(16, 32, 64), metadata={"help": "channels per conv block"})
    convs_per_block: int = 1
    dense_units: int = 64
    dropout: float = 0.1
    head: str = dataclasses.field(default="flatten", metadata={"help": "flatten (keeps position) or global_average"})
    pooling: str = dataclasses.field(default="max", metadata={"help": "max, or none (strided convolutions)"})
    epochs: int = 20
    batch_size: int = 32
    learning_rate: float = 1e-3
    patience: int = dataclasses.field(default=5, metadata={"help": "early-stopping patience in epochs"})
    augment: bool = dataclasses.field(default=True, metadata={"help": "random horizontal flips in training"})
    max_train_examples: int = dataclasses.field(default=0, metadata={"help": "cap on training examples; 0 = all"})
    seed: int = 0

    def validate(self) -> None:
        from pipelines.datasets import groups

        groups.check_pattern(self.group_pattern)
        if self.image_size < 8:
            raise UserError("image_size must be at least 8")
        if not self.filters or any(f <= 0 for f in self.filters):
            raise UserError("filters must be a comma-separated list of positive integers, e.g. 32,64,128")
        if self.image_size >> len(self.filters) < 1:
            raise UserError(f"image_size {self.image_size} is too small for {len(self.filters)} pooling blocks")
        if self.head not in ("flatten", "global_average"):
            raise UserError("head must be flatten or global_average")
        if self.pooling not in ("max", "none"):
            raise UserError("pooling must be max or none")
        if self.epochs < 1 or self.batch_size < 1:
            raise UserError("epochs and batch_size must be positive")
        checks.check_folder_dataset(self.dataset, "image")  # after the settings, before TensorFlow loads
        checks.check_tfds_name(self.dataset)


PRESETS = {
    "default": ImageConfig(),
    # A run of well under a minute for smoke tests: 3,000 examples, six epochs, no regularisation
    # (the shapes need a few hundred steps before the loss leaves ln(6)).
    "tiny": ImageConfig(
        dense_units=64,
        dropout=0.0,
        augment=False,
        epochs=6,
        max_train_examples=3000,
        patience=10,
    ),
}


def main(argv: Sequence[str] | None = None) -> int:
    return cli.train_main(
        "python -m pipelines.image", __doc__.splitlines()[0], ImageConfig, PRESETS, train_and_export, argv
    )


def train_and_export(
    config: ImageConfig, runs_dir: str, export_dir: str, export_model: bool = True, strategy=None
) -> int:
    import keras
    import numpy as np
    import tensorflow as tf

    from models import cnn
    from pipelines.datasets import image_sources, pipeline
    from pipelines.evaluation import baselines
    from pipelines.training import trainer

    keras.utils.set_random_seed(config.seed)
    strategy = strategy or tf.distribute.get_strategy()
    data = image_sources.load(
        config.dataset,
        config.image_size,
        config.seed,
        config.max_train_examples,
        group_pattern=config.group_pattern,
        split_files=config.split_files,
    )
    run_dir = trainer.make_run_dir(runs_dir, "image")
    config_lib.save(config, run_dir / "config.json")
    if data.split_rows:
        trainer.save_split_assignment(data.split_rows, run_dir / "splits.csv")
    logging.info("data: %s, classes %s, sizes %s", data.description, data.class_names, data.sizes)

    flip = keras.layers.RandomFlip("horizontal", seed=config.seed)

    def augment(images, labels):
        return tf.cast(flip(images, training=True), tf.uint8), labels

    batch = dict(batch_size=config.batch_size, seed=config.seed, cache=data.cache)
    train = pipeline.batched(data.train, training=True, augment=augment if config.augment else None, **batch)
    validation = pipeline.batched(data.validation, training=False, **batch)
    test = pipeline.batched(data.test, training=False, **batch)

    model, history, fit_seconds = trainer.fit(
        lambda: cnn.build_image_classifier(config, len(data.class_names)),
        train,
        validation,
        config,
        run_dir,
        strategy,
        trainer.backup_dir_for(runs_dir, "image", config),
    )
    probabilities, labels = trainer.predict_labels(model, test)
    metrics = {
        "test": trainer.classification_metrics(probabilities, labels, data.class_names),
        "fit_seconds": round(fit_seconds, 1),
        "epochs_run": len(history.get("loss", [])),
        "parameters": int(model.count_params()),
        "dataset": data.description,
        "sizes": data.sizes,
        "class_names": data.class_names,
    }

    train_images, train_labels = _as_arrays(data.train)
    test_images, test_labels = _as_arrays(data.test)
    metrics["baseline"] = baselines.pixel_logistic_regression(
        train_images, train_labels, test_images, test_labels, seed=config.seed
    )
    if export_model:
        from serving.export import image_export

        samples = test_images[np.linspace(0, len(test_images) - 1, min(8, len(test_images))).astype(int)]
        version_dir, differences = image_export.export_image_model(
            model, data.class_names, config_lib.to_dict(config), export_dir, samples
        )
        metrics["export"] = {"path": str(version_dir), "reload_max_difference": differences}
    trainer.write_run_outputs(run_dir, config, metrics, history, data.class_names, "image CNN")
    trainer.print_summary(metrics, run_dir)
    return 0


def _as_arrays(dataset):
    import numpy as np

    images, labels = [], []
    for image_batch, label_batch in dataset.batch(1024):
        images.append(image_batch.numpy())
        labels.append(label_batch.numpy())
    return np.concatenate(images), np.concatenate(labels)


if __name__ == "__main__":
    sys.exit(cli.run(main))
