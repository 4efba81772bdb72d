"""Calibration and check data for the LiteRT conversion, from the export's own training data.

int8 needs the range of every tensor, states included. The states a video model carries are only
realistic when the model has been run on the frames before: zeros (or random values) as states
calibrate ranges the model never sees, and int8 calibrated that way has been seen to wreck per-frame
accuracy. So, as MoViNet's quantiser does, the float model runs frame by frame over real training
videos (whole videos for folders, clips for the embedded data and tfds), states carried, and a few
(frame, states) pairs spread along each sequence become the samples: ``samples`` pairs over
``sequences`` sequences drawn across the training split.

Images: training photos, at the model's size. Check data (against which the converted files are
compared with the SavedModel before they are published): clips or photos of the test split.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator

import numpy as np

from common import config as config_lib
from common.errors import UserError

SHUFFLE_BUFFER = 1024  # spreads the drawn clips over the classes of a class-sorted split


@dataclasses.dataclass
class Calibration:
    """Representative samples (``{input name: array}``, batch 1) and where they came from."""

    samples: list[dict[str, np.ndarray]]
    description: dict


def with_dataset(config, dataset: str | None):
    """The pipeline config with ``dataset`` as its data (its split settings, which name the old
    data's files and groups, dropped); unchanged for None."""
    if not dataset:
        return config
    return config_lib.replace(config, dataset=dataset, split_files="", group_pattern="")


def load_data(kind: str, config):
    """The labelled splits the export's config names (``video_sources`` or ``image_sources``).

    Raises:
        UserError: the data is missing or unreadable, said as calibration data.
    """
    try:
        if kind == "video":
            from pipelines.datasets import video_sources  # deferred: TensorFlow, after the checks

            return video_sources.load(config.data, config.model.frame_size, config.seed)
        from pipelines.datasets import image_sources  # deferred: TensorFlow, after the checks

        return image_sources.load(config.data, config.model.image_size, config.seed)
    except UserError as error:
        raise UserError(
            f"calibration data: {error} (the export's training data, named in its config.json; give another "
            "with ARGS='--calibration-dataset PATH')"
        ) from None


def _shuffled(dataset, seed: int):
    from pipelines.datasets import pipeline  # deferred: TensorFlow

    return pipeline.batched(dataset, batch_size=1, training=True, seed=seed, cache=False, shuffle_buffer=SHUFFLE_BUFFER)


def training_sequences(data, seed: int, count: int) -> Iterator[np.ndarray]:
    """Up to ``count`` training sequences, uint8 (frames, size, size, 3): whole videos (folders,
    evenly spread over the list) or clips (drawn across the split)."""
    videos = (data.videos or {}).get("train")
    if videos:
        for index in np.unique(np.linspace(0, len(videos) - 1, min(count, len(videos))).astype(int)):
            yield videos[index][0]()
        return
    for clips, _ in _shuffled(data.train, seed).take(count):
        yield clips.numpy()[0]


def video_calibration(
    step: Callable[..., dict], state_shapes: dict[str, tuple], data, config, samples: int, sequences: int
) -> Calibration:
    """(frame, carried states) pairs: ``step`` (the float model, ``step(frame=, state_0=, ...)``) runs
    over every frame of each training sequence, and ``ceil(samples / sequences)`` pairs evenly spread
    along it are kept, at most ``samples`` in all.

    Raises:
        UserError: no training sequence has a frame.
    """
    per_sequence = max(1, math.ceil(samples / sequences))
    kept, num_sequences, frames_run = [], 0, 0
    for frames in training_sequences(data, config.seed, sequences):
        if not len(frames):
            continue
        num_sequences += 1
        keep = set(np.linspace(0, len(frames) - 1, min(per_sequence, len(frames))).astype(int).tolist())
        states = {name: np.zeros(shape, np.float32) for name, shape in state_shapes.items()}
        for index, frame in enumerate(frames):
            inputs = {"frame": frame[np.newaxis], **states}
            if index in keep:
                kept.append(inputs)
            outputs = step(**inputs)
            states = {name: outputs[name] for name in state_shapes}
        frames_run += len(frames)
        if len(kept) >= samples:
            break
    if not kept:
        raise UserError(
            f"calibration data is empty: {_name(config)} has no training frames; give --calibration-dataset"
        )
    return Calibration(
        kept[:samples],
        {
            "dataset": _name(config),
            "split": "train",
            "sequences": num_sequences,
            "frames_run": frames_run,
            "samples": len(kept[:samples]),
            "states": "carried: the float32 model run frame by frame over each sequence from zero states",
        },
    )


def image_calibration(data, config, samples: int) -> Calibration:
    """Up to ``samples`` training images (drawn across the split) as ``{"image": (1, size, size, 3)}``.

    Raises:
        UserError: the training split has no image.
    """
    kept = [{"image": image.numpy()} for image, _ in _shuffled(data.train, config.seed).take(samples)]
    if not kept:
        raise UserError(
            f"calibration data is empty: {_name(config)} has no training images; give --calibration-dataset"
        )
    return Calibration(kept, {"dataset": _name(config), "split": "train", "samples": len(kept)})


def check_inputs(kind: str, data, count: int) -> np.ndarray:
    """Up to ``count`` test clips (n, time, size, size, 3) or test images (n, size, size, 3), uint8, in split order."""
    items = [item.numpy() for item, _ in data.test.take(count)]
    if not items:
        raise UserError("the export's data has an empty test split: nothing to check the converted model on")
    return np.stack(items).astype(np.uint8)


def _name(config) -> str:
    return config.data.dataset or "the embedded dataset"
