"""Section 1: convolution finds local patterns, deeper layers combine them: filters, feature maps, receptive fields."""

from __future__ import annotations

import pathlib
import time

import cv2
import keras
import numpy as np

from common import formats
from pipelines import image
from pipelines.datasets import image_sources
from pipelines.datasets.embedded import shapes
from pipelines.report import figures
from pipelines.report.content import Figure, Section, Table, new_section
from pipelines.report.sections import common
from pipelines.training.workspace import Workspace

SHARED_VIDEOS = pathlib.Path(__file__).resolve().parents[3].parent / "shared" / "data" / "videos"


def _receptive_fields(image_config) -> list[int]:
    """Receptive field (pixels of the model input) of each block's output."""
    field, jump, result = 1, 1, []
    for _ in image_config.filters:
        for index in range(image_config.convs_per_block):
            strided = image_config.pooling == "none" and index == image_config.convs_per_block - 1
            field += 2 * jump
            jump *= 2 if strided else 1
        if image_config.pooling == "max":
            field += jump
            jump *= 2
        result.append(field)
    return result


def _photo(config) -> tuple[np.ndarray, str]:
    """A real photo (a frame from the middle of a shared video, or the file given), else a generated scene."""

    candidates = []
    if config.photo:
        candidates = [pathlib.Path(config.photo).expanduser()]
    elif SHARED_VIDEOS.is_dir():
        candidates = sorted(p for p in SHARED_VIDEOS.iterdir() if p.suffix.lower() in formats.VIDEO_EXTENSIONS)
    for path in candidates:
        if path.suffix.lower() in formats.IMAGE_EXTENSIONS:
            image = image_sources.read_image(path)
            if image is not None:
                return image, f"real photo: {path.name}"
            continue
        capture = cv2.VideoCapture(str(path))
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        capture.set(cv2.CAP_PROP_POS_FRAMES, max(0, count // 2))
        ok, frame = capture.read()
        capture.release()
        if ok and frame is not None:
            return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), f"real photo: frame {count // 2} of {path.name}"
    # No real footage here: a generated scene with three shapes, and the report says so.
    rng = np.random.default_rng([config.seed, 7])
    canvas = shapes.render_background(rng, 128, 128)
    for kind, center in (("star", (36, 40)), ("ring", (92, 46)), ("triangle", (64, 96))):
        params = shapes.ShapeParams(kind, center, 24.0, rng.uniform(0, 6.28), shapes.contrasting_color(rng, canvas))
        canvas = shapes.draw_shape(canvas, params)
    return shapes.finish(canvas, rng), "generated image (no real video found under ../shared/data/videos)"


def _center_square(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return image[top : top + side, left : left + side]


def convolution(config, runs_dir: pathlib.Path, figures_dir: pathlib.Path) -> Section:
    section = new_section(1)
    start = time.perf_counter()
    image_config = common.image_config(
        config, epochs=config.image_epochs, max_train_examples=config.image_train_examples
    )
    run_dir = image.train_and_export(image_config, Workspace(runs_dir)).run_dir
    section.runs.append(run_dir)
    metrics = common.metrics(run_dir)
    model = common.load_image_model(run_dir, image_config, len(metrics["class_names"]))
    size = image_config.model.image_size
    encoder = model.get_layer("cnn_encoder")
    last = image_config.model.convs_per_block
    block_names = [f"block{b + 1}_relu{last}" for b in range(len(image_config.model.filters))]
    probe = keras.Model(encoder.inputs, [encoder.get_layer(name).output for name in block_names])

    def maps_of(picture: np.ndarray) -> tuple[np.ndarray, list[tuple[str, np.ndarray]], str]:
        batch = picture[np.newaxis]
        x = model.get_layer("standardize")(model.get_layer("resize")(batch))
        outputs = probe(x, training=False)
        probabilities = model(batch, training=False).numpy()[0]
        label = metrics["class_names"][int(probabilities.argmax())]
        named = [(f"block {b + 1}", np.asarray(o[0])) for b, o in enumerate(outputs)]
        return np.asarray(batch[0]), named, f"{label} ({probabilities.max():.2f})"

    data = image_sources.load(image_config.data, image_config.model.image_size, config.seed)
    embedded, embedded_label = next(iter(data.test.skip(3).take(1)))
    embedded = embedded.numpy()
    photo, photo_source = _photo(config)
    photo = image_sources.resize_image(_center_square(photo), 128).numpy()
    seconds = time.perf_counter() - start
    what = (
        f"image CNN ({common.describe(image_config, ('image_size', 'filters', 'convs_per_block', 'pooling', 'head'))})"
    )
    footer = common.footer(
        f"{what}, {metrics['epochs_run']} epochs on {metrics['sizes']['train']} images", config.seed, seconds
    )

    kernel = model.get_layer("cnn_encoder").get_layer("block1_conv1").get_weights()[0]
    section.figures.append(
        Figure(
            figures.first_layer_filters(kernel, figures_dir / "1_filters.png", "first-layer 3x3 filters (RGB)", footer),
            f"The {kernel.shape[-1]} first-layer filters of {what}, each 3x3 over RGB, rescaled to show its "
            f"pattern (run {run_dir.name}; seed {config.seed}; run time {seconds:.0f} s).",
        )
    )
    for name, picture, source in (
        ("embedded", embedded, f"embedded test image #3 (a {metrics['class_names'][int(embedded_label)]})"),
        ("photo", photo, photo_source),
    ):
        shown, named, predicted = maps_of(picture)
        path = figures.feature_maps(
            shown, named, figures_dir / f"1_maps_{name}.png", f"{source}; predicted {predicted}", footer
        )
        section.figures.append(
            Figure(
                path,
                f"Feature maps of each block for the {source}: the 8 most active channels per block "
                f"(after ReLU), input resized to {size}x{size}; predicted "
                f"{predicted}. Run {run_dir.name}; seed {config.seed}; run time {seconds:.0f} s.",
            )
        )

    fields = _receptive_fields(image_config.model)
    accuracy, baseline = metrics["test"]["accuracy"], metrics["baseline"]["accuracy"]
    section.blocks.append(
        Table(
            ["block", "channels", "map size", "receptive field (input pixels)"],
            [
                [str(b + 1), str(f), f"{named[b][1].shape[0]}x{named[b][1].shape[1]}", f"{fields[b]}"]
                for b, f in enumerate(image_config.model.filters)
            ],
        )
    )
    section.blocks.append(
        f"Test accuracy of the CNN: {common.percent(accuracy)} on {metrics['test']['num_examples']} "
        "embedded test images; "
        f"{metrics['baseline']['name']} on the same split: {common.percent(baseline)} "
        f"(chance {1 / len(metrics['class_names']):.3f}). Photo used: {photo_source}."
    )
    chance = 1 / len(metrics["class_names"])
    if common.inconclusive(section, "the CNN", accuracy, chance):
        pass
    elif accuracy > baseline + common.margin(metrics["test"]["num_examples"]):
        section.verdict = "supported"
        section.verdict_reason = (
            f"each block's unit sees a larger patch ({', '.join(map(str, fields))} pixels of a "
            f"{image_config.model.image_size}-pixel input), and the stacked blocks reach {accuracy:.3f} where a linear "
            f"model on the pixels reaches {baseline:.3f}. The pictures are illustrations: which pattern a channel "
            "combines is read from them by eye, not measured."
        )
    else:
        section.verdict = "not supported"
        section.verdict_reason = (
            f"with this budget the CNN ({accuracy:.3f}) does not beat a linear model on the pixels ({baseline:.3f}) "
            "by a clear margin, so the maps show filters that have not yet learnt useful combinations."
        )
    return section
