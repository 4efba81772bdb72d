"""TFDS builder for the embedded image dataset: six geometric shapes on textured backgrounds.

Generated locally and deterministically (each example's random generator is seeded by its split
and index), so ``tfds.load("shapes_images")`` works offline once this module is imported.
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from pipelines.datasets.embedded import offline_builder, shapes

IMAGE_SIZE = 64
SPLIT_SIZES = {"train": 9000, "validation": 1500, "test": 1500}
_SPLIT_SEEDS = {"train": 0, "validation": 1, "test": 2}


class ShapesImages(offline_builder.OfflineBuilder):
    """Circle, square, triangle, star, cross and ring, with random position, scale, rotation,
    colour and background (gradients, stripes, blobs, noise); 64x64 RGB."""

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {
        "1.0.0": "Initial release.",
        "1.1.0": "Larger shapes, higher contrast, softer textures and noise (learnable in minutes on a CPU).",
    }

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(IMAGE_SIZE, IMAGE_SIZE, 3)),
                    "label": tfds.features.ClassLabel(names=list(shapes.SHAPES)),
                }
            ),
            supervised_keys=("image", "label"),
            homepage="https://github.com/",  # generated locally; no download
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # nothing to download
        return {split: self._generate_examples(split) for split in SPLIT_SIZES}

    def _generate_examples(self, split: str):
        for index in range(SPLIT_SIZES[split]):
            rng = np.random.default_rng([20261127, _SPLIT_SEEDS[split], index])
            label = index % len(shapes.SHAPES)  # balanced classes
            image = shapes.render_image(rng, shapes.SHAPES[label], IMAGE_SIZE)
            yield index, {"image": image, "label": label}
