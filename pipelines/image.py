"""Image CNN pipeline: data → train → evaluate → export for TF Serving.

make train-image                      # embedded shapes, ~3 min on 2 cores, test accuracy ≈ 0.99
make train-image PRESET=tiny          # seconds; smoke test
make train-image DATASET=path/to/folder_of_class_folders
make train-image DATASET=tfds:mnist   # when prepared locally or online
python -m pipelines.image --help
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from common import cli
from common import config as config_lib
from pipelines.configs.image import PRESETS, ImageConfig
from pipelines.training import command
from pipelines.training.workspace import Workspace


def main(argv: Sequence[str] | None = None) -> int:
    return command.train_main(
        "python -m pipelines.image", __doc__.splitlines()[0], ImageConfig, PRESETS, train_and_export, argv
    )


def train_and_export(config: ImageConfig, workspace: Workspace):
    """Trains, evaluates and (into ``workspace.export_dir`` when set) exports; returns a ``run_folder.TrainResult``.

    The config is resolved first (the encoder ``auto`` chooses, the input size follows it). The small
    CNN trains from scratch; a pretrained backbone trains in two phases (``training.transfer``).
    """
    # Deferred: TensorFlow loads only once main has checked the config.
    import numpy as np

    from models import cnn
    from pipelines.datasets import augment, image_sources, pipeline
    from pipelines.evaluation import baselines, metrics
    from pipelines.training import encoder_weights, run_folder, trainer, transfer
    from serving.export import image_export

    config = config.resolved()
    model_config, settings = config.model, config.data
    strategy = workspace.start(config.seed)
    data = image_sources.load(settings, model_config.image_size, config.seed)
    run = run_folder.create(workspace, "image", config, data)
    num_classes = len(data.class_names)

    if not settings.augment:
        image_augment = None
    elif config.backbone:
        image_augment = augment.make_image_augment(settings.crop_scale, settings.brightness, settings.contrast)
    else:
        image_augment = augment.make_image_augment(crop_scale=1.0, brightness=0.0, contrast=0.0)  # flips only
    batch = dict(batch_size=config.training.batch_size, seed=config.seed, cache=data.cache)
    train = pipeline.batched(data.train, training=True, augment=image_augment, **batch)
    validation = pipeline.batched(data.validation, training=False, **batch)
    test = pipeline.batched(data.test, training=False, **batch)

    results = {}
    if config.backbone:
        with strategy.scope():  # the variables of both phases belong to the strategy
            model = cnn.build_image_classifier(model_config, num_classes)
        encoder_weights.load(model, model_config)
        logging.info("%s", encoder_weights.describe(model_config))
        model, history, fit_seconds, results["linear_probe_accuracy"] = transfer.fit_head_then_fine_tune(
            model, data, train, validation, config, run, strategy
        )
    else:
        logging.info("%s", encoder_weights.describe(model_config))
        model, history, fit_seconds = trainer.fit(
            lambda: cnn.build_image_classifier(model_config, num_classes),
            train,
            validation,
            config.training,
            run.directory,
            strategy,
            run.backup_dir(config),
        )
    probabilities, labels = metrics.predict_labels(model, test)
    results = {
        "test": metrics.classification_metrics(probabilities, labels, data.class_names),
        "fit_seconds": round(fit_seconds, 1),
        "epochs_run": len(history.get("loss", [])),
        "parameters": int(model.count_params()),
        "encoder": model_config.encoder,
        "encoder_weights": encoder_weights.record(model_config),
        "dataset": data.description,
        "sizes": data.sizes,
        "class_names": data.class_names,
        **results,
    }
    train_images, train_labels = image_sources.as_arrays(data.train)
    test_images, test_labels = image_sources.as_arrays(data.test)
    results["baseline"] = baselines.pixel_logistic_regression(
        train_images, train_labels, test_images, test_labels, seed=config.seed
    )
    if workspace.export_dir:
        samples = test_images[np.linspace(0, len(test_images) - 1, min(8, len(test_images))).astype(int)]
        exported = {**config_lib.to_dict(config), "encoder_weights_file": results["encoder_weights"]}
        version_dir, differences = image_export.export_image_model(
            model, data.class_names, exported, workspace.export_dir, samples
        )
        results["export"] = {"path": str(version_dir), "reload_max_difference": differences}
    title = "image CNN" if model_config.encoder == "small_cnn" else f"image {model_config.encoder}"
    run_folder.write_run_outputs(run.directory, config, results, history, data.class_names, title)
    return run_folder.classifier_result(run.directory, results)


if __name__ == "__main__":
    sys.exit(cli.run(main))
