"""Helpers two or more sections share: run folders and their metrics, captions, and the verdict margins."""

from __future__ import annotations

import json
import pathlib

from common import config as config_lib
from models import cnn
from pipelines.configs import image as image_configs
from pipelines.report.content import Section

# A verdict needs a margin above noise: a few hundred test examples resolve about this much.
MARGIN = 0.03
# Below this accuracy above chance a model has not learnt its task, and comparing it says nothing.
LEARNT = 0.15


def margin(num_examples: int) -> float:
    """Two standard errors of an accuracy near 0.5 measured on ``num_examples`` (at least MARGIN)."""
    return max(MARGIN, 2 * (0.25 / max(1, num_examples)) ** 0.5)


def inconclusive(section: Section, what: str, accuracy: float, chance: float) -> bool:
    """Marks the section inconclusive when its model is too close to chance to test the claim."""
    if accuracy >= chance + LEARNT:
        return False
    section.verdict = "inconclusive"
    section.verdict_reason = (
        f"{what} reached only {accuracy:.3f} (chance {chance:.3f}) with this budget: too weak to test the claim "
        "either way. Run the default preset (make report) for a measurement."
    )
    return True


def metrics(run_dir: pathlib.Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))


def footer(what: str, seed: int, seconds: float) -> str:
    return f"{what}; seed {seed}; run time {seconds:.0f} s"


def describe(config, keys: tuple[str, ...]) -> str:
    values = config_lib.to_dict(config)
    return ", ".join(
        f"{key}={','.join(map(str, values[key])) if isinstance(values[key], (tuple, list)) else values[key]}"
        for key in keys
        if key in values
    )


def image_config(config, **changes):
    """The image pipeline's preset of the report's ``pipeline_preset``, with the report's seed and ``changes``,
    resolved; always the small CNN (the report measures convolution and pooling as the CNN learns them,
    on folders too, whatever Keras's cache holds)."""
    preset = image_configs.PRESETS[config.pipeline_preset]
    changes = {"encoder": "small_cnn", "encoder_weights": "none", **changes}
    return config_lib.replace(preset, seed=config.seed, **changes).resolved()


def load_image_model(run_dir: pathlib.Path, image_config, num_classes: int):
    """The image CNN a run trained, rebuilt from its config with its best weights."""

    model = cnn.build_image_classifier(image_config.model, num_classes)
    model.load_weights(str(run_dir / "best.weights.h5"))
    return model


def percent(value: float) -> str:
    return f"{value:.3f}"
