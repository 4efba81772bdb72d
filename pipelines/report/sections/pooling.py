"""Section 2: pooling and position: max pooling against strided convolutions on shapes moved off-centre."""

from __future__ import annotations

import json
import pathlib
import time

import cv2
import numpy as np

from common import config as config_lib
from pipelines import image
from pipelines.datasets.embedded import shapes
from pipelines.report import figures
from pipelines.report.content import Figure, Section, Table, new_section
from pipelines.report.sections import common
from pipelines.training import run_folder
from pipelines.training.workspace import Workspace


def _centred_shape(rng: np.random.Generator, kind: str, size: int, offset: tuple[float, float]) -> np.ndarray:
    background = shapes.render_background(rng, size, size)
    radius = rng.uniform(0.18, 0.24) * size
    center = (size / 2 + offset[0], size / 2 + offset[1])
    params = shapes.ShapeParams(
        kind, center, radius, rng.uniform(0, 2 * np.pi), shapes.contrasting_color(rng, background)
    )
    return shapes.finish(shapes.draw_shape(background, params, shading=rng.uniform(-25, 25)), rng)


def centred_shapes_folder(root: pathlib.Path, per_class: int, size: int, jitter: int, seed: int) -> pathlib.Path:
    """Writes (once) a folder dataset of the six shapes near the centre (± ``jitter`` pixels)."""

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
    section = new_section(2)
    start = time.perf_counter()
    base = common.image_config(config, epochs=config.shift_epochs, augment=False)
    size = base.model.image_size
    folder = centred_shapes_folder(
        runs_dir / "report" / "datasets", config.shift_images_per_class, size, config.shift_jitter, config.seed
    )
    base = config_lib.replace(base, dataset=str(folder))
    # Pooling vs strided convolutions under each head: the pipeline's flatten head keeps position after
    # the last block, a global average throws it away; the pair under each head has the same parameters.
    variants = {
        f"{'max pooling' if mode == 'max' else 'strided convs'}, {head.replace('_', ' ')} head": (mode, head)
        for head in config.shift_heads
        for mode in ("max", "none")
    }
    models, run_dirs, parameters, fit_seconds = {}, {}, {}, {}
    for name, (mode, head) in variants.items():
        variant = config_lib.replace(base, pooling=mode, head=head)
        run_dir = image.train_and_export(variant, Workspace(runs_dir)).run_dir
        metrics = common.metrics(run_dir)
        run_dirs[name], parameters[name], fit_seconds[name] = run_dir, metrics["parameters"], metrics["fit_seconds"]
        models[name] = (common.load_image_model(run_dir, variant, len(metrics["class_names"])), metrics["class_names"])
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

    measurement_dir = run_folder.make_run_dir(runs_dir, "position")
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
        f"image CNN ({common.describe(base, ('image_size', 'filters', 'convs_per_block', 'dense_units'))}), "
        f"{base.training.epochs} epochs on {config.shift_images_per_class * 6 * 8 // 10} centred shapes "
        f"(±{config.shift_jitter} px)"
    )
    footer = common.footer(what, config.seed, seconds)
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
            [[str(s)] + [common.percent(accuracy[n][i]) for n in variants] for i, s in enumerate(shifts)]
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
    margin = common.margin(config.shift_test_images)
    pairs = [(names[0], names[1]) for names in zip(*[iter(variants)] * 2)]  # (pooled, strided) per head
    # A pair counts only when both its models clearly learnt the centred task (a flat, weak model "keeps"
    # its accuracy everywhere); the others are named, not judged.
    learnt = [(p, q) for p, q in pairs if min(accuracy[p][0], accuracy[q][0]) >= chance + 2 * common.LEARNT]
    weak = [(p, q) for p, q in pairs if (p, q) not in learnt]
    if not learnt:
        common.inconclusive(section, "the weakest model at shift 0", min(v[0] for v in accuracy.values()), chance)
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
    collapsed = [
        n for n, values in accuracy.items() if values[-1] < chance + margin and values[0] >= chance + common.LEARNT
    ]
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
