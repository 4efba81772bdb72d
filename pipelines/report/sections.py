"""The five experiments of the report; each trains through the pipelines' own functions and returns a Section.

Every function takes the report config, the runs root and the report's ``figures/`` folder, and
fills a :class:`~pipelines.report.content.Section` with its numbers, figures and run folders.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import pathlib
import time

import numpy as np

from pipelines.report import figures
from pipelines.report.content import Figure, Section, Table, new_section

SHARED_VIDEOS = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "data" / "videos"
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm")
# A verdict needs a margin above noise: a few hundred test examples resolve about this much.
_MARGIN = 0.03
# Below this accuracy above chance a model has not learnt its task, and comparing it says nothing.
_LEARNT = 0.15


def _margin(num_examples: int) -> float:
    """Two standard errors of an accuracy near 0.5 measured on ``num_examples`` (at least _MARGIN)."""
    return max(_MARGIN, 2 * (0.25 / max(1, num_examples)) ** 0.5)


def _inconclusive(section: Section, what: str, accuracy: float, chance: float) -> bool:
    """Marks the section inconclusive when its model is too close to chance to test the claim."""
    if accuracy >= chance + _LEARNT:
        return False
    section.verdict = "inconclusive"
    section.verdict_reason = (
        f"{what} reached only {accuracy:.3f} (chance {chance:.3f}) with this budget: too weak to test the claim "
        "either way. Run the default preset (make report) for a measurement."
    )
    return True


# --- shared helpers -----------------------------------------------------------------------------


def _new_run(parent: pathlib.Path, train) -> pathlib.Path:
    """Calls ``train()`` and returns the run folder it created under ``parent``."""
    before = set(parent.iterdir()) if parent.exists() else set()
    train()
    created = sorted(p for p in parent.iterdir() if p.is_dir() and not p.name.startswith(".") and p not in before)
    if not created:
        raise RuntimeError(f"the run wrote no folder under {parent}")
    return created[-1]


def _metrics(run_dir: pathlib.Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))


def _footer(what: str, seed: int, seconds: float) -> str:
    return f"{what}; seed {seed}; run time {seconds:.0f} s"


def _describe(config, keys: tuple[str, ...]) -> str:
    values = dataclasses.asdict(config)
    return ", ".join(
        f"{key}={','.join(map(str, values[key])) if isinstance(values[key], (tuple, list)) else values[key]}"
        for key in keys
        if key in values
    )


def _image_config(config, **changes):
    from pipelines import image

    return dataclasses.replace(image.PRESETS[config.pipeline_preset], seed=config.seed, **changes)


def _load_image_model(run_dir: pathlib.Path, image_config, num_classes: int):
    from models import cnn

    model = cnn.build_image_classifier(image_config, num_classes)
    model.load_weights(str(run_dir / "best.weights.h5"))
    return model


def _percent(value: float) -> str:
    return f"{value:.3f}"


# --- 1. convolution -------------------------------------------------------------------------------


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
    import cv2

    from pipelines.datasets import image_sources, shapes

    candidates = []
    if config.photo:
        candidates = [pathlib.Path(config.photo).expanduser()]
    elif SHARED_VIDEOS.is_dir():
        candidates = sorted(p for p in SHARED_VIDEOS.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
    for path in candidates:
        if path.suffix.lower() in image_sources.IMAGE_EXTENSIONS:
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
    import keras

    from pipelines import image
    from pipelines.datasets import image_sources

    section = new_section(1)
    start = time.perf_counter()
    image_config = _image_config(config, epochs=config.image_epochs, max_train_examples=config.image_train_examples)
    run_dir = _new_run(
        runs_dir / "image", lambda: image.train_and_export(image_config, str(runs_dir), "", export_model=False)
    )
    section.runs.append(run_dir)
    metrics = _metrics(run_dir)
    model = _load_image_model(run_dir, image_config, len(metrics["class_names"]))
    encoder = model.get_layer("cnn_encoder")
    last = image_config.convs_per_block
    block_names = [f"block{b + 1}_relu{last}" for b in range(len(image_config.filters))]
    probe = keras.Model(encoder.inputs, [encoder.get_layer(name).output for name in block_names])

    def maps_of(picture: np.ndarray) -> tuple[np.ndarray, list[tuple[str, np.ndarray]], str]:
        batch = picture[np.newaxis]
        x = model.get_layer("standardize")(model.get_layer("resize")(batch))
        outputs = probe(x, training=False)
        probabilities = model(batch, training=False).numpy()[0]
        label = metrics["class_names"][int(probabilities.argmax())]
        named = [(f"block {b + 1}", np.asarray(o[0])) for b, o in enumerate(outputs)]
        return np.asarray(batch[0]), named, f"{label} ({probabilities.max():.2f})"

    data = image_sources.load("", image_config.image_size, config.seed)
    embedded, embedded_label = next(iter(data.test.skip(3).take(1)))
    embedded = embedded.numpy()
    photo, photo_source = _photo(config)
    photo = image_sources.resize_image(_center_square(photo), 128).numpy()
    seconds = time.perf_counter() - start
    what = f"image CNN ({_describe(image_config, ('image_size', 'filters', 'convs_per_block', 'pooling', 'head'))})"
    footer = _footer(
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
                f"(after ReLU), input resized to {image_config.image_size}x{image_config.image_size}; predicted "
                f"{predicted}. Run {run_dir.name}; seed {config.seed}; run time {seconds:.0f} s.",
            )
        )

    fields = _receptive_fields(image_config)
    accuracy, baseline = metrics["test"]["accuracy"], metrics["baseline"]["accuracy"]
    section.blocks.append(
        Table(
            ["block", "channels", "map size", "receptive field (input pixels)"],
            [
                [str(b + 1), str(f), f"{named[b][1].shape[0]}x{named[b][1].shape[1]}", f"{fields[b]}"]
                for b, f in enumerate(image_config.filters)
            ],
        )
    )
    section.blocks.append(
        f"Test accuracy of the CNN: {_percent(accuracy)} on {metrics['test']['num_examples']} embedded test images; "
        f"{metrics['baseline']['name']} on the same split: {_percent(baseline)} "
        f"(chance {1 / len(metrics['class_names']):.3f}). Photo used: {photo_source}."
    )
    chance = 1 / len(metrics["class_names"])
    if _inconclusive(section, "the CNN", accuracy, chance):
        pass
    elif accuracy > baseline + _margin(metrics["test"]["num_examples"]):
        section.verdict = "supported"
        section.verdict_reason = (
            f"each block's unit sees a larger patch ({', '.join(map(str, fields))} pixels of a "
            f"{image_config.image_size}-pixel input), and the stacked blocks reach {accuracy:.3f} where a linear "
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


# --- 2. pooling and position ----------------------------------------------------------------------


def _centred_shape(rng: np.random.Generator, kind: str, size: int, offset: tuple[float, float]) -> np.ndarray:
    from pipelines.datasets import shapes

    background = shapes.render_background(rng, size, size)
    radius = rng.uniform(0.18, 0.24) * size
    center = (size / 2 + offset[0], size / 2 + offset[1])
    params = shapes.ShapeParams(
        kind, center, radius, rng.uniform(0, 2 * np.pi), shapes.contrasting_color(rng, background)
    )
    return shapes.finish(shapes.draw_shape(background, params, shading=rng.uniform(-25, 25)), rng)


def centred_shapes_folder(root: pathlib.Path, per_class: int, size: int, jitter: int, seed: int) -> pathlib.Path:
    """Writes (once) a folder dataset of the six shapes near the centre (± ``jitter`` pixels)."""
    import cv2

    from pipelines.datasets import shapes

    folder = root / f"centred_shapes-{per_class}x{size}px-jitter{jitter}-seed{seed}"
    done = folder / ".complete"
    if done.exists():
        return folder
    for label, kind in enumerate(shapes.SHAPES):
        (folder / kind).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            rng = np.random.default_rng([seed, 31, label, index])
            offset = tuple(rng.uniform(-jitter, jitter, size=2))
            picture = _centred_shape(rng, kind, size, offset)
            cv2.imwrite(str(folder / kind / f"{index:05d}.png"), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    done.write_text("")
    return folder


def shifted_test_set(num_images: int, shift: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The same ``num_images`` scenes (background, shape, colour, direction) with the shape moved ``shift``
    pixels from the centre, in a direction drawn per scene; labels index ``shapes.SHAPES``."""
    from pipelines.datasets import shapes

    images, labels = [], []
    for index in range(num_images):
        label = index % len(shapes.SHAPES)
        direction = np.random.default_rng([seed, 53, index]).uniform(0, 2 * np.pi)
        rng = np.random.default_rng([seed, 59, index])  # same scene at every shift
        offset = (shift * np.cos(direction), shift * np.sin(direction))
        images.append(_centred_shape(rng, shapes.SHAPES[label], size, offset))
        labels.append(label)
    return np.stack(images), np.asarray(labels)


def pooling(config, runs_dir: pathlib.Path, figures_dir: pathlib.Path) -> Section:
    from pipelines import image, training
    from pipelines.datasets import shapes

    section = new_section(2)
    start = time.perf_counter()
    base = _image_config(config, epochs=config.shift_epochs, augment=False)
    size = base.image_size
    folder = centred_shapes_folder(
        runs_dir / "report" / "datasets", config.shift_images_per_class, size, config.shift_jitter, config.seed
    )
    base = dataclasses.replace(base, dataset=str(folder))
    # Pooling vs strided convolutions under each head: the pipeline's flatten head keeps position after
    # the last block, a global average throws it away; the pair under each head has the same parameters.
    variants = {
        f"{'max pooling' if mode == 'max' else 'strided convs'}, {head.replace('_', ' ')} head": (mode, head)
        for head in config.shift_heads
        for mode in ("max", "none")
    }
    models, run_dirs, parameters, fit_seconds = {}, {}, {}, {}
    for name, (mode, head) in variants.items():
        variant = dataclasses.replace(base, pooling=mode, head=head)
        run_dir = _new_run(
            runs_dir / "image", lambda v=variant: image.train_and_export(v, str(runs_dir), "", export_model=False)
        )
        metrics = _metrics(run_dir)
        run_dirs[name], parameters[name], fit_seconds[name] = run_dir, metrics["parameters"], metrics["fit_seconds"]
        models[name] = (_load_image_model(run_dir, variant, len(metrics["class_names"])), metrics["class_names"])
        section.runs.append(run_dir)

    shifts = list(config.shifts)
    accuracy = {name: [] for name in variants}
    examples = []
    for shift in shifts:
        test_images, test_labels = shifted_test_set(config.shift_test_images, shift, size, config.seed + 1)
        examples.append(test_images[3])
        for name, (model, class_names) in models.items():
            # The folder source orders classes by folder name; map predictions back to SHAPES order.
            to_shapes = np.array([shapes.SHAPES.index(c) for c in class_names])
            predicted = to_shapes[model.predict(test_images, batch_size=128, verbose=0).argmax(-1)]
            accuracy[name].append(float((predicted == test_labels).mean()))
    seconds = time.perf_counter() - start
    # Share of its own centred accuracy a model keeps off-centre (mean over the shifts > 0).
    retained = {name: float(np.mean(values[1:]) / max(values[0], 1e-9)) for name, values in accuracy.items()}

    measurement_dir = training.make_run_dir(runs_dir, "position")
    results = {
        "shifts": shifts,
        "accuracy": accuracy,
        "retained_off_centre": retained,
        "parameters": parameters,
        "runs": {name: str(path) for name, path in run_dirs.items()},
        "train_folder": str(folder),
        "test_images_per_shift": config.shift_test_images,
        "seed": config.seed,
        "seconds": round(seconds, 1),
    }
    (measurement_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    section.runs.append(measurement_dir)

    what = (
        f"image CNN ({_describe(base, ('image_size', 'filters', 'convs_per_block', 'dense_units'))}), "
        f"{base.epochs} epochs on {config.shift_images_per_class * 6 * 8 // 10} centred shapes "
        f"(±{config.shift_jitter} px)"
    )
    footer = _footer(what, config.seed, seconds)
    chance = 1 / len(shapes.SHAPES)
    section.figures.append(
        Figure(
            figures.accuracy_vs_shift(
                shifts, accuracy, chance, figures_dir / "2_shift.png", "accuracy as objects move off-centre", footer
            ),
            f"Test accuracy against shift, {config.shift_test_images} test images per shift (the same scenes at "
            f"every shift). {what}; parameters: "
            + ", ".join(f"{n} {p:,}" for n, p in parameters.items())
            + f". Seed {config.seed}; run time {seconds:.0f} s (fits: "
            + ", ".join(f"{s:.0f} s" for s in fit_seconds.values())
            + ").",
        )
    )
    section.figures.append(
        Figure(
            figures.image_strip(
                examples, [f"shift {s}px" for s in shifts], figures_dir / "2_examples.png", "one test scene", footer
            ),
            f"One test scene at each shift ({size}x{size} pixels; training shapes sit within "
            f"±{config.shift_jitter} px of the centre).",
        )
    )
    section.blocks.append(
        Table(
            ["shift (px)"] + list(variants),
            [[str(s)] + [_percent(accuracy[n][i]) for n in variants] for i, s in enumerate(shifts)]
            + [["**kept off-centre**"] + [f"{retained[n]:.2f}" for n in variants]],
        )
    )
    section.blocks.append(
        "Design: every model is trained on shapes rendered within "
        f"±{config.shift_jitter} px of the image centre, then tested on new scenes whose shape is moved 0.."
        f"{shifts[-1]} px in a random direction (rendered there, not wrapped or padded). 'Kept off-centre' is the "
        "mean accuracy over the shifts > 0 divided by the model's accuracy at shift 0. Parameters: "
        + ", ".join(f"{n} {p:,}" for n, p in parameters.items())
        + ". The flatten head (the pipeline's default) keeps position in the features after the last block; "
        "the global-average head averages it away."
    )
    margin = _margin(config.shift_test_images)
    pairs = [(names[0], names[1]) for names in zip(*[iter(variants)] * 2)]  # (pooled, strided) per head
    # A pair counts only when both its models clearly learnt the centred task (a flat, weak model "keeps"
    # its accuracy everywhere); the others are named, not judged.
    learnt = [(p, q) for p, q in pairs if min(accuracy[p][0], accuracy[q][0]) >= chance + 2 * _LEARNT]
    weak = [(p, q) for p, q in pairs if (p, q) not in learnt]
    if not learnt:
        _inconclusive(section, "the weakest model at shift 0", min(v[0] for v in accuracy.values()), chance)
        return section
    outcomes = []
    for pooled, strided in learnt:
        difference = retained[pooled] - retained[strided]
        outcomes.append("better" if difference > margin else ("worse" if difference < -margin else "same"))
    detail = "; ".join(
        f"{pooled.split(', ')[1]}: kept {retained[pooled]:.2f} with pooling vs {retained[strided]:.2f} strided"
        for pooled, strided in learnt
    )
    if weak:
        detail += "; not judged (too weak at shift 0 with this budget): " + ", ".join(
            f"{name} {accuracy[name][0]:.3f}" for pair in weak for name in pair
        )
    collapsed = [n for n, values in accuracy.items() if values[-1] < chance + margin and values[0] >= chance + _LEARNT]
    tail = (
        f" At {shifts[-1]} px, {', '.join(collapsed)} {'is' if len(collapsed) == 1 else 'are'} at chance: "
        "pooling buys tolerance to a few pixels, not invariance."
        if collapsed
        else ""
    )
    if all(o == "better" for o in outcomes) and not weak:
        section.verdict = "supported"
    elif any(o == "better" for o in outcomes):
        section.verdict = "partly supported"
    else:
        section.verdict = "not supported"
    section.verdict_reason = f"share of centred accuracy kept off-centre: {detail}.{tail}"
    return section


# --- 3. memory over distance ----------------------------------------------------------------------


def memory(config, runs_dir: pathlib.Path, figures_dir: pathlib.Path) -> Section:
    import csv
    import shutil

    from pipelines import compare_rnn

    section = new_section(3)
    start = time.perf_counter()
    compare_config = dataclasses.replace(
        compare_rnn.PRESETS[config.pipeline_preset],
        distances=tuple(config.compare_distances),
        cells=tuple(config.compare_cells),
        epochs=config.compare_epochs,
        max_train_examples=config.compare_train_examples,
        seed=config.seed,
    )
    run_dir = _new_run(runs_dir / "compare_rnn", lambda: compare_rnn.compare(compare_config, str(runs_dir)))
    seconds = time.perf_counter() - start
    section.runs.append(run_dir)
    with open(run_dir / "results.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    cells = list(dict.fromkeys(row["cell"] for row in rows))
    distances = sorted({int(row["distance"]) for row in rows})
    accuracy = {(row["cell"], int(row["distance"])): float(row["test_accuracy"]) for row in rows}
    first = {cell: next(row for row in rows if row["cell"] == cell) for cell in cells}
    section.blocks.append(
        Table(
            ["cell", "parameters", "recurrent parameters", "seconds/epoch (mean over distances)"]
            + [f"acc @ d={d}" for d in distances],
            [
                [
                    cell,
                    f"{int(first[cell]['parameters']):,}",
                    f"{int(first[cell]['recurrent_parameters']):,}",
                    f"{np.mean([float(r['seconds_per_epoch']) for r in rows if r['cell'] == cell]):.1f}",
                ]
                + [_percent(accuracy[(cell, d)]) for d in distances]
                for cell in cells
            ],
        )
    )
    results_md = (run_dir / "results.md").read_text(encoding="utf-8")
    notes = [line for line in results_md.splitlines() if line and not line.startswith("|")]
    section.blocks.extend(notes)
    what = f"compare-rnn ({_describe(compare_config, ('units', 'embedding_dim', 'epochs', 'max_train_examples'))})"
    shutil.copyfile(run_dir / "accuracy_vs_distance.png", figures_dir / "3_accuracy_vs_distance.png")
    section.figures.append(
        Figure(
            figures_dir / "3_accuracy_vs_distance.png",
            f"Test accuracy against distance (the plot written by pipelines.compare_rnn in run {run_dir.name}). "
            f"{what}; seed {config.seed}; run time {seconds:.0f} s.",
        )
    )
    longest = distances[-1]
    gated = [c for c in ("lstm", "gru") if c in cells]
    num_classes = int(round(1 / float(_chance_from(results_md)))) if _chance_from(results_md) else 0
    best_short = max(accuracy[(c, distances[0])] for c in cells)
    margin = _margin(_compare_test_size())
    if num_classes and _inconclusive(section, f"the best cell at distance {distances[0]}", best_short, 1 / num_classes):
        pass
    elif "simple_rnn" in cells and gated:
        simple = accuracy[("simple_rnn", longest)]
        best_gated = max(accuracy[(c, longest)] for c in gated)
        worst_gated = min(accuracy[(c, longest)] for c in gated)
        detail = (
            f"at distance {longest}: SimpleRNN {simple:.3f}, "
            + ", ".join(f"{c.upper()} {accuracy[(c, longest)]:.3f}" for c in gated)
            + "."
        )
        if worst_gated > simple + margin:
            section.verdict, section.verdict_reason = "supported", detail
        elif best_gated > simple + margin:
            section.verdict, section.verdict_reason = (
                "partly supported",
                "only one gated cell beats SimpleRNN " + detail,
            )
        else:
            section.verdict = "not supported"
            section.verdict_reason = f"with this budget the gated cells do not keep more memory than SimpleRNN {detail}"
    return section


def _chance_from(results_md: str) -> str:
    """The chance level compare_rnn writes into results.md ("chance = 0.25")."""
    import re

    match = re.search(r"chance = ([0-9]+(?:\.[0-9]+)?)", results_md)
    return match.group(1) if match else ""


def _compare_test_size() -> int:
    from pipelines.datasets import chinese_reference

    return chinese_reference.SPLIT_SIZES["test"]


# --- 4. GRU vs LSTM -------------------------------------------------------------------------------


def _time_steps(models: dict, inputs, targets, steps: int) -> dict[str, dict[str, float]]:
    """Median seconds per ``train_on_batch`` and ``predict_on_batch``, the models interleaved step by
    step so that changes in machine load hit both alike."""
    import keras

    for model in models.values():
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
        model.optimizer.build(model.trainable_variables)  # before the first step, which then traces once
        for _ in range(2):  # trace and warm up
            model.train_on_batch(inputs, targets)
            model.predict_on_batch(inputs)
    times = {name: {"train": [], "predict": []} for name in models}
    for _ in range(steps):
        for name, model in models.items():
            begin = time.perf_counter()
            model.train_on_batch(inputs, targets)
            times[name]["train"].append(time.perf_counter() - begin)
            begin = time.perf_counter()
            model.predict_on_batch(inputs)
            times[name]["predict"].append(time.perf_counter() - begin)
    return {name: {mode: float(np.median(values)) for mode, values in modes.items()} for name, modes in times.items()}


def _recurrent_parameters(model, names: tuple[str, ...]) -> int:
    return sum(int(layer.count_params()) for layer in model.layers if layer.name.startswith(names))


def gru_vs_lstm(config, runs_dir: pathlib.Path, figures_dir: pathlib.Path) -> Section:
    import os

    import keras

    from models import text_rnn, video_cnn_rnn
    from pipelines import text, training, video
    from pipelines.datasets import shape_motion, text_sources

    section = new_section(4)
    start = time.perf_counter()
    load_before = os.getloadavg()[0]
    batch = config.timing_batch_size
    rows = []

    # Text: the text pipeline's model at its preset width, on fixed embedded sentences.
    text_base = dataclasses.replace(
        text.PRESETS[config.pipeline_preset], tokenize="character", wide=False, seed=config.seed
    )
    data = text_sources.load("", seed=config.seed, max_train_examples=max(batch, 256), distance=text_base.distance)
    vocabulary = text.adapt_vocabulary(data.texts["train"], "character", text_base.max_tokens)
    keras.utils.set_random_seed(config.seed)
    text_models = {
        cell: text_rnn.build_text_classifier(
            dataclasses.replace(text_base, cell=cell), vocabulary, len(data.class_names), use_cudnn=False
        )
        for cell in ("gru", "lstm")
    }
    import tensorflow as tf

    text_inputs = tf.constant([str(t) for t in data.texts["train"][:batch]], tf.string)
    text_targets = data.labels["train"][:batch]
    text_times = _time_steps(text_models, text_inputs, text_targets, config.timing_steps)
    rows.append(
        (
            f"text ({_describe(text_base, ('units', 'embedding_dim', 'bidirectional', 'max_length'))}, "
            f"distance {text_base.distance})",
            text_models,
            text_times,
        )
    )

    # Video: the video pipeline's CNN + recurrent model at its preset width, on fixed clips.
    video_base = dataclasses.replace(video.PRESETS[config.pipeline_preset], seed=config.seed).resolved()
    rng = np.random.default_rng(config.seed)
    clips = np.stack(
        [
            shape_motion.render_clip(rng, shape_motion.MOTIONS[i % 6], video_base.num_frames, 32)
            for i in range(min(batch, 16))
        ]
    )
    clip_targets = np.tile((np.arange(len(clips)) % 6)[:, None], (1, video_base.num_frames))
    keras.utils.set_random_seed(config.seed)
    video_models = {
        cell: video_cnn_rnn.build_video_cnn_rnn(dataclasses.replace(video_base, cell=cell), 6, use_cudnn=False)
        for cell in ("gru", "lstm")
    }
    video_times = _time_steps(video_models, clips, clip_targets, config.timing_steps)
    rows.append(
        (
            f"video ({_describe(video_base, ('frame_size', 'filters', 'units', 'num_frames'))})",
            video_models,
            video_times,
        )
    )
    # The recurrent layer alone, same width, so the cell's own cost is not hidden behind a CNN or embedding.
    width, steps = text_base.units[0], 100
    sequences = np.random.default_rng(config.seed).normal(size=(batch, steps, width)).astype("float32")

    def bare(cell: str) -> keras.Model:
        inputs = keras.Input((steps, width), name="sequence")
        outputs = text_rnn.recurrent_layer(cell, width, False, False, cell)(inputs)
        return keras.Model(inputs, keras.layers.Dense(6, activation="softmax")(outputs), name=f"bare_{cell}")

    keras.utils.set_random_seed(config.seed)
    bare_models = {cell: bare(cell) for cell in ("gru", "lstm")}
    bare_times = _time_steps(bare_models, sequences, np.arange(batch) % 6, config.timing_steps)
    rows.append((f"recurrent layer alone (units={width}, {steps} steps)", bare_models, bare_times))
    seconds = time.perf_counter() - start
    load_after = os.getloadavg()[0]

    table_rows, ratios, results = [], [], []
    for label, models, times in rows:
        total = {cell: int(model.count_params()) for cell, model in models.items()}
        recurrent = {
            cell: _recurrent_parameters(model, (cell, "recurrent", "bidirectional")) for cell, model in models.items()
        }
        ratio = {
            "recurrent parameters": recurrent["gru"] / recurrent["lstm"],
            "all parameters": total["gru"] / total["lstm"],
            "train step": times["gru"]["train"] / times["lstm"]["train"],
            "predict": times["gru"]["predict"] / times["lstm"]["predict"],
        }
        ratios.append((label.split(" (")[0], ratio))
        results.append(
            {"model": label, "parameters": total, "recurrent_parameters": recurrent, "seconds": times, "ratios": ratio}
        )
        table_rows.append(
            [
                label,
                f"{recurrent['gru']:,} / {recurrent['lstm']:,} = {ratio['recurrent parameters']:.2f}",
                f"{total['gru']:,} / {total['lstm']:,} = {ratio['all parameters']:.2f}",
                f"{times['gru']['train'] * 1e3:.1f} / {times['lstm']['train'] * 1e3:.1f} = {ratio['train step']:.2f}",
                f"{times['gru']['predict'] * 1e3:.1f} / {times['lstm']['predict'] * 1e3:.1f} = {ratio['predict']:.2f}",
            ]
        )
    measurement_dir = training.make_run_dir(runs_dir, "gru_vs_lstm")
    (measurement_dir / "results.json").write_text(
        json.dumps(
            {
                "results": results,
                "batch_size": batch,
                "timed_steps": config.timing_steps,
                "seed": config.seed,
                "load_average_1min": [load_before, load_after],
                "cpus": os.cpu_count(),
                "seconds": round(seconds, 1),
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    section.runs.append(measurement_dir)
    section.blocks.append(
        Table(
            [
                "model (same width for both cells)",
                "recurrent params GRU / LSTM",
                "all params",
                "train step ms",
                "predict ms",
            ],
            table_rows,
        )
    )
    section.blocks.append(
        f"Median of {config.timing_steps} steps per model and mode on a fixed batch ({batch} embedded sentences "
        f"for text, {len(clips)} generated clips for video), GRU and LSTM interleaved step by step, "
        f"CPU kernels (no cuDNN). Machine: {os.cpu_count()} CPUs, 1-minute load average {load_before:.1f} before "
        f"and {load_after:.1f} after: absolute times inflate under load, the interleaved ratios much less."
    )
    footer = _footer(f"batch {batch}, {config.timing_steps} timed steps, load {load_before:.1f}", config.seed, seconds)
    section.figures.append(
        Figure(
            figures.ratio_bars(ratios, figures_dir / "4_gru_vs_lstm.png", "GRU / LSTM at the same width", footer),
            f"GRU/LSTM ratios of parameters and median step times (below 1: GRU lighter). Text: {rows[0][0]}; "
            f"video: {rows[1][0]}. Seed {config.seed}; run time {seconds:.0f} s; load average {load_before:.1f}.",
        )
    )
    lighter_parameters = all(r["recurrent parameters"] < 1 for _, r in ratios)
    time_ratios = [r[key] for _, r in ratios for key in ("train step", "predict")]
    faster = [value < 1 - _MARGIN for value in time_ratios]
    summary = ", ".join(
        f"{name}: recurrent parameters {r['recurrent parameters']:.2f}, train {r['train step']:.2f}, "
        f"predict {r['predict']:.2f}"
        for name, r in ratios
    )
    if lighter_parameters and all(faster):
        section.verdict, section.verdict_reason = "supported", f"GRU/LSTM {summary}."
    elif lighter_parameters:
        section.verdict = "partly supported"
        section.verdict_reason = (
            f"GRU has fewer parameters, but it is not faster in every timing (GRU/LSTM {summary}). Fewer "
            "parameters did not mean shorter steps on this CPU: a step is a loop of small matrix products over time, "
            "where per-step overhead weighs as much as the gate count, and in the full models the CNN or the "
            "embedding takes much of the time."
        )
    else:
        section.verdict, section.verdict_reason = "not supported", f"GRU/LSTM {summary}."
    return section


# --- 5. video: CNN per frame + RNN across frames -----------------------------------------------------


def motion(config, runs_dir: pathlib.Path, figures_dir: pathlib.Path) -> Section:
    from models import video_cnn_rnn
    from pipelines import training, video
    from pipelines.datasets import shape_motion

    section = new_section(5)
    start = time.perf_counter()
    video_config = dataclasses.replace(
        video.PRESETS[config.pipeline_preset],
        epochs=config.video_epochs,
        baseline_epochs=config.video_baseline_epochs,
        max_train_examples=config.video_train_examples,
        max_eval_examples=config.video_eval_examples,
        seed=config.seed,
    )
    run_dir = _new_run(
        runs_dir / "video", lambda: video.train_and_export(video_config, str(runs_dir), "", export_model=False)
    )
    train_seconds = time.perf_counter() - start
    section.runs.append(run_dir)
    metrics = _metrics(run_dir)
    class_names = metrics["class_names"]
    hybrid = metrics["test"]["per_class_accuracy"]
    baseline = metrics["baseline"]["per_class_accuracy"]
    chance = 1 / len(class_names)
    what = (
        f"video CNN+{video_config.cell.upper()} "
        f"({_describe(video_config, ('frame_size', 'filters', 'units', 'num_frames', 'feature_difference'))}), "
        f"{metrics['epochs_run']} epochs on {metrics['sizes']['train']} clips; frame-only baseline "
        f"{video_config.baseline_epochs} epochs"
    )
    footer = _footer(what, config.seed, train_seconds)
    section.figures.append(
        Figure(
            figures.per_class_bars(
                class_names,
                {
                    "CNN+RNN": [hybrid[c] or 0.0 for c in class_names],
                    "frame-only CNN": [baseline[c] or 0.0 for c in class_names],
                },
                chance,
                figures_dir / "5_per_class.png",
                "per-class accuracy on the moving-shapes test split",
                footer,
            ),
            f"Per-frame test accuracy per class (frames after the first quarter of each clip, "
            f"{metrics['test']['num_clips']} test clips), from {run_dir.name}/metrics.json. {what}; "
            f"seed {config.seed}; "
            f"run time {train_seconds:.0f} s (fits {metrics['fit_seconds']:.0f} s and "
            f"{metrics['baseline']['fit_seconds']:.0f} s).",
        )
    )
    section.blocks.append(
        Table(
            ["class", "CNN+RNN", "frame-only CNN"],
            [[c, _percent(hybrid[c] or 0.0), _percent(baseline[c] or 0.0)] for c in class_names]
            + [
                [
                    "**all (per frame)**",
                    _percent(metrics["test"]["frame_accuracy_after_first_quarter"]),
                    _percent(metrics["baseline"]["frame_accuracy_after_first_quarter"]),
                ],
                [
                    "**all (per clip)**",
                    _percent(metrics["test"]["clip_accuracy"]),
                    _percent(metrics["baseline"]["clip_accuracy"]),
                ],
            ],
        )
    )

    # A long generated video, classified causally chunk by chunk through the stream model (the same
    # graph as the export's `stream` signature), against its ground truth.
    timeline_start = time.perf_counter()
    model = video_cnn_rnn.build_video_cnn_rnn(video_config, len(class_names))
    model.load_weights(str(run_dir / "best.weights.h5"))
    stream = video_cnn_rnn.build_stream_model(model, video_config)
    frame_only = video_cnn_rnn.build_frame_baseline(video_config, len(class_names))
    frame_only.load_weights(str(run_dir / "frame_baseline" / "best.weights.h5"))
    motions = tuple(c for c in class_names if c in shape_motion.MOTIONS)
    frames, labels = shape_motion.render_long_video(config.seed, config.long_video_segments, size=32, motions=motions)
    truth = np.array([class_names.index(shape_motion.MOTIONS[label]) for label in labels])
    states = {name: np.zeros((1, size), np.float32) for name, size in video_cnn_rnn.state_sizes(video_config).items()}
    chunk, hybrid_probabilities = 16, []
    for begin in range(0, len(frames), chunk):
        outputs = stream({"frames": frames[np.newaxis, begin : begin + chunk], **states}, training=False)
        hybrid_probabilities.append(np.asarray(outputs["probabilities"])[0])
        states = {name: np.asarray(outputs[name]) for name in states}
    hybrid_probabilities = np.concatenate(hybrid_probabilities)
    baseline_probabilities = np.asarray(frame_only(frames[np.newaxis], training=False))[0]
    hybrid_labels, baseline_labels = hybrid_probabilities.argmax(-1), baseline_probabilities.argmax(-1)
    cut = np.r_[True, truth[1:] != truth[:-1]]
    since_cut = np.zeros(len(truth), int)
    for index in range(1, len(truth)):
        since_cut[index] = 0 if cut[index] else since_cut[index - 1] + 1
    settled = since_cut >= 4
    timeline_seconds = time.perf_counter() - timeline_start
    long_accuracy = {
        "CNN+RNN": float((hybrid_labels == truth).mean()),
        "frame-only CNN": float((baseline_labels == truth).mean()),
        "CNN+RNN, 4+ frames after a cut": float((hybrid_labels == truth)[settled].mean()),
        "frame-only CNN, 4+ frames after a cut": float((baseline_labels == truth)[settled].mean()),
    }
    measurement_dir = training.make_run_dir(runs_dir, "video_timeline")
    np.savez_compressed(
        measurement_dir / "timeline.npz",
        truth=truth,
        hybrid_probabilities=hybrid_probabilities,
        baseline_probabilities=baseline_probabilities,
    )
    (measurement_dir / "results.json").write_text(
        json.dumps(
            {
                "video_run": str(run_dir),
                "long_video": {"seed": config.seed, "segments": config.long_video_segments, "frames": len(truth)},
                "class_names": class_names,
                "accuracy": long_accuracy,
                "stream_chunk_frames": chunk,
                "seconds": round(timeline_seconds, 1),
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    section.runs.append(measurement_dir)
    thumbnails = [(int(i), frames[int(i)]) for i in np.linspace(0, len(frames) - 1, 8).astype(int)]
    section.figures.append(
        Figure(
            figures.label_timeline(
                {"ground truth": truth, "CNN+RNN (stream)": hybrid_labels, "frame-only CNN": baseline_labels},
                class_names,
                hybrid_probabilities[np.arange(len(truth)), truth],
                thumbnails,
                figures_dir / "5_timeline.png",
                f"long generated video: {len(truth)} frames, {config.long_video_segments} motion segments",
                _footer(f"{what}; long video seed {config.seed}", config.seed, timeline_seconds),
            ),
            f"Per-frame labels of a long generated video (render_long_video, seed {config.seed}, "
            f"{config.long_video_segments} segments, {len(truth)} frames of 32x32, each segment a cut to a new "
            f"scene) against its ground truth; the CNN+RNN runs causally in chunks of {chunk} frames with its state "
            f"carried (the export's stream signature, in process), the frame-only CNN on each frame. Curve: the "
            f"CNN+RNN's probability of the true class. Model from run {run_dir.name}; seed {config.seed}; run time "
            f"{timeline_seconds:.0f} s.",
        )
    )
    section.blocks.append(
        "Long video, per-frame accuracy: "
        + "; ".join(f"{name} {value:.3f}" for name, value in long_accuracy.items())
        + ". Right after a cut the recurrent model still carries the previous segment, so its first frames of a "
        "segment are often wrong; '4+ frames after a cut' leaves those out."
    )
    per_frame = metrics["test"]["frame_accuracy_after_first_quarter"]
    per_frame_baseline = metrics["baseline"]["frame_accuracy_after_first_quarter"]
    margin = _margin(metrics["test"]["num_clips"] * (video_config.num_frames - video_config.num_frames // 4))
    class_margin = _margin(metrics["test"]["num_clips"] // len(class_names))
    # Every motion understood: each class well above chance (a per-class comparison with the baseline
    # would reward a baseline that answers one class for every frame with 1.0 on that class).
    understood = [c for c in class_names if (hybrid[c] or 0) > chance + _LEARNT + class_margin]
    constant = (
        [c for c in class_names if (baseline[c] or 0) > 0.9]
        if sum((baseline[c] or 0) > 0.1 for c in class_names) == 1
        else []
    )
    detail = (
        f"test per-frame accuracy {per_frame:.3f} vs {per_frame_baseline:.3f} frame-only (chance {chance:.3f}); "
        f"the hybrid is well above chance on {len(understood)} of {len(class_names)} motions; long video "
        f"{long_accuracy['CNN+RNN']:.3f} vs {long_accuracy['frame-only CNN']:.3f}."
        + (
            f" The frame-only CNN answers '{constant[0]}' for (almost) every frame: one frame does not show the "
            "motion, so it falls back to a constant guess (hence its 1.0 on that class)."
            if constant
            else ""
        )
    )
    if _inconclusive(section, "the CNN+RNN", per_frame, chance):
        pass
    elif per_frame > per_frame_baseline + margin and len(understood) == len(class_names):
        section.verdict, section.verdict_reason = "supported", detail
    elif per_frame > per_frame_baseline + margin:
        section.verdict, section.verdict_reason = "partly supported", detail
    else:
        section.verdict, section.verdict_reason = "not supported", detail
    logging.info("report section 5: %s", detail)
    return section


RUNNERS = {1: convolution, 2: pooling, 3: memory, 4: gru_vs_lstm, 5: motion}
