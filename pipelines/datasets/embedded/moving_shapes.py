"""TFDS builder for the embedded video dataset: eight motions of one shape, labelled per frame.

Clips of 16 frames, 32x32 RGB (small, so ``make train-video`` fits in minutes on two CPU cores).
The class is the motion (left, right, up, down, grow, shrink), never the shape, colour, position
or background, so a single frame cannot tell it (see ``shape_motion``). The renderer can also
rotate shapes, but at 32x32 the direction of a turn takes far longer to learn than the minutes
this dataset is meant for, so rotation is left out of it.

Validation and test clips are one motion each. A quarter of the training clips are two motions
cut together (the second starting at frame 4 to 12): the per-frame labels then change mid-clip,
which teaches the recurrent model to switch when the scene changes, as it must on long videos.
``label`` is the motion of the clip's last frame. Generated locally and deterministically (each
clip's random generator is seeded by split and index), so ``tfds.load("moving_shapes")`` works
offline once this module is imported.
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from pipelines.datasets.embedded import offline_builder, shape_motion

NUM_FRAMES = 16
FRAME_SIZE = 32
MOTIONS = ("left", "right", "up", "down", "grow", "shrink")
SPLIT_SIZES = {"train": 3200, "validation": 400, "test": 800}
TWO_MOTION_FRACTION = {"train": 0.25, "validation": 0.0, "test": 0.0}
_SPLIT_SEEDS = {"train": 0, "validation": 1, "test": 2}


def render_example(split: str, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Clip ``index`` of ``split``: frames uint8 (16, 32, 32, 3) and per-frame labels (16,)."""
    rng = np.random.default_rng([20261128, _SPLIT_SEEDS[split], index])
    num_motions = len(MOTIONS)
    label = index % num_motions  # balanced classes (for the last frame)
    if rng.random() < TWO_MOTION_FRACTION[split]:
        cut = int(rng.integers(4, 13))
        first = int((label + rng.integers(1, num_motions)) % num_motions)
        frames = np.concatenate(
            [
                shape_motion.render_clip(rng, MOTIONS[first], cut, FRAME_SIZE),
                shape_motion.render_clip(rng, MOTIONS[label], NUM_FRAMES - cut, FRAME_SIZE),
            ]
        )
        labels = np.array([first] * cut + [label] * (NUM_FRAMES - cut), np.int64)
    else:
        frames = shape_motion.render_clip(rng, MOTIONS[label], NUM_FRAMES, FRAME_SIZE)
        labels = np.full(NUM_FRAMES, label, np.int64)
    return frames, labels


class MovingShapes(offline_builder.OfflineBuilder):
    """One shape moving left, right, up, down, growing or shrinking on a textured background;
    16 frames of 32x32 RGB, labelled per frame."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}

    def _info(self) -> tfds.core.DatasetInfo:
        names = list(MOTIONS)
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "video": tfds.features.Tensor(
                        shape=(NUM_FRAMES, FRAME_SIZE, FRAME_SIZE, 3), dtype=np.uint8, encoding="zlib"
                    ),
                    "label": tfds.features.ClassLabel(names=names),
                    "frame_labels": tfds.features.Sequence(tfds.features.ClassLabel(names=names), length=NUM_FRAMES),
                }
            ),
            supervised_keys=("video", "frame_labels"),
            homepage="https://github.com/",  # generated locally; no download
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # nothing to download
        return {split: self._generate_examples(split) for split in SPLIT_SIZES}

    def _generate_examples(self, split: str):
        for index in range(SPLIT_SIZES[split]):
            frames, labels = render_example(split, index)
            yield index, {"video": frames, "label": int(labels[-1]), "frame_labels": labels}
