"""Transfer learning, measured through the export in a fresh process, on photos training never saw.

``python -m bench transfer`` (part of ``make bench``; about 20 minutes on 2 cores). Needs
``../shared/data/images/`` and MobileNetV2's ImageNet weights (Keras's cache, else
``../shared/weights/`` through a temporary ``KERAS_HOME``); what is missing is skipped with a reason.

- **Cats and dogs** (2,000 photos, 80/10/10): ``make train-image DATASET=.../cats_dogs`` at its
  defaults (``auto``: MobileNetV2 from ImageNet, frozen then its top fine-tuned), the same with
  ``--fine-tune-fraction 0`` (the linear probe: the new head alone on the frozen features) and with
  ``--encoder small_cnn``. Each run's wall-clock time, then its export scores the run's test photos in
  a fresh process that knows only TensorFlow: the photos' own JPEG bytes through ``encoded``.
- **CIFAR-10, 300 images per class** (32x32): MobileNetV2 at its defaults against the small CNN.
- **Photos/s and export size per backbone**: every backbone (random weights: speed does not depend on
  them) and the small CNN, exported, classifying the cats-and-dogs test photos (JPEG decoding
  included) in batches of 32 in a fresh process.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import textwrap
import time

from bench.support.table import Rows, format_table
from common import cli

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = PROJECT_ROOT.parent / "shared"
CATS_DOGS = SHARED / "data" / "images" / "cats_dogs"
CIFAR = SHARED / "data" / "images" / "cifar10_train_300"

# A fresh interpreter with only TensorFlow, as a serving client: accuracy and photos/s of an export.
PHOTO_CHECK = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np, tensorflow as tf

    version_dir, photos = sys.argv[1], json.loads(sys.argv[2])
    loaded = tf.saved_model.load(version_dir)
    encoded = loaded.signatures["encoded"]
    classes = [c.decode() for c in loaded.signatures["classes"](query=tf.constant([""]))["classes"].numpy()[0]]
    data = [open(path, "rb").read() for path, _ in photos]
    encoded(image_bytes=tf.constant(data[:32]))  # traced and warm
    start, predicted = time.perf_counter(), []
    for begin in range(0, len(data), 32):
        probabilities = encoded(image_bytes=tf.constant(data[begin : begin + 32]))["probabilities"].numpy()
        predicted += [classes[i] for i in probabilities.argmax(-1)]
    seconds = time.perf_counter() - start
    correct = sum(p == label for p, (_, label) in zip(predicted, photos))
    print(json.dumps({"accuracy": correct / len(photos), "photos_per_second": len(photos) / seconds}))
    """
)


def score_export(version_dir: str, photos: list[tuple[str, str]]) -> dict:
    """Accuracy and photos/s of an export on ``photos`` ((path, label) pairs), in a fresh process."""
    check = subprocess.run(
        [sys.executable, "-I", "-c", PHOTO_CHECK, version_dir, json.dumps(photos)], capture_output=True, text=True
    )
    if check.returncode != 0:
        raise RuntimeError(f"export check of {version_dir} failed:\n{check.stderr[-3000:]}")
    return json.loads(check.stdout.strip().splitlines()[-1])


def test_photos(run_dir: pathlib.Path, root: pathlib.Path) -> list[tuple[str, str]]:
    """The (path, class) of every photo a run's split put in its test set (``splits.csv``)."""
    with open(run_dir / "splits.csv", encoding="utf-8") as file:
        return [(str(root / row["file"]), row["class"]) for row in csv.DictReader(file) if row["split"] == "test"]


def train(dataset: pathlib.Path, work: pathlib.Path, name: str, *flags: str) -> tuple[dict, float]:
    """``python -m pipelines.image`` as ``make train-image`` runs it; (its metrics, wall-clock seconds)."""
    command = [
        sys.executable, "-m", "pipelines.image", "--dataset", str(dataset), "--runs-dir", str(work / "runs"),
        "--export-dir", str(work / name), *flags,
    ]  # fmt: skip
    start = time.perf_counter()
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{result.stderr[-3000:]}")
    summary = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("{")))
    run_dir = pathlib.Path(summary["run_dir"])
    return {**json.loads((run_dir / "metrics.json").read_text()), "run_dir": run_dir}, seconds


@contextlib.contextmanager
def imagenet_cache():
    """Yields True when MobileNetV2's ImageNet weights are in Keras's cache, putting the shared files
    in a temporary ``KERAS_HOME`` for the duration when the user's cache lacks them."""
    from pipelines.configs import pretrained

    if pretrained.cached_imagenet_file("mobilenet_v2", 224):
        yield True
        return
    files = sorted((SHARED / "weights").glob("*.h5"))
    if not files:
        yield False
        return
    previous = os.environ.get("KERAS_HOME")
    with tempfile.TemporaryDirectory() as home:
        (pathlib.Path(home) / "models").mkdir()
        for file in files:
            (pathlib.Path(home) / "models" / file.name).symlink_to(file)
        os.environ["KERAS_HOME"] = home
        try:
            yield True
        finally:
            if previous is None:
                os.environ.pop("KERAS_HOME")
            else:
                os.environ["KERAS_HOME"] = previous


def _compare(bench: str, dataset: pathlib.Path, work: pathlib.Path, target: float | None = None):
    """MobileNetV2 at the defaults, its linear probe (cats and dogs) and the small CNN on one folder;
    returns the rows and the test photos."""
    runs = {
        "MobileNetV2 (ImageNet), fine-tuned: the defaults": ("default", ()),
        "linear probe (the new head on frozen MobileNetV2)": ("probe", ("--fine-tune-fraction", "0")),
        "small CNN from scratch": ("small_cnn", ("--encoder", "small_cnn")),
    }
    row, photos = Rows(bench), []
    for label, (name, flags) in runs.items():
        if name == "probe" and dataset != CATS_DOGS:
            continue
        metrics, seconds = train(dataset, work, name, *flags)
        photos = photos or test_photos(metrics["run_dir"], dataset)
        scored = score_export(metrics["export"]["path"], photos)
        print(f"{bench} {name}: {json.dumps(scored)} in {seconds:.0f} s", file=sys.stderr, flush=True)
        checked = name == "default" and target is not None
        accuracy = scored["accuracy"]
        row(
            f"{label}: test accuracy via export", f"{accuracy:.3f}", "",
            target=f">= {target}" if checked else "", ok=accuracy >= target if checked else None,
        )  # fmt: skip
        row(
            f"{label}: make train-image wall-clock", round(seconds), "s",
            target="<= 600" if checked else "", ok=seconds <= 600 if checked else None,
        )  # fmt: skip
    return row, photos


def _speeds(photos: list, work: pathlib.Path) -> Rows:
    """Photos/s through ``encoded`` and the export's size, per backbone (random weights) and the small CNN."""
    import numpy as np

    from common import config as config_lib
    from models import backbones, cnn
    from pipelines.configs.image import ImageConfig
    from serving.export import image_export

    row = Rows(f"image inference ({len(photos)} cats-and-dogs photos, JPEG decoding included, batches of 32)")
    for encoder in ("small_cnn", *backbones.BACKBONES):
        config = config_lib.replace(ImageConfig(), encoder=encoder, encoder_weights="none", dataset="x").resolved()
        model = cnn.build_image_classifier(config.model, 2)
        samples = np.random.default_rng(0).integers(0, 256, (2, config.model.image_size, config.model.image_size, 3))
        version_dir, _ = image_export.export_image_model(
            model, ["cat", "dog"], config_lib.to_dict(config), work / "speed" / encoder, samples.astype(np.uint8)
        )
        scored = score_export(str(version_dir), photos)
        megabytes = sum(f.stat().st_size for f in version_dir.rglob("*") if f.is_file()) / 1e6
        size = config.model.image_size
        row(f"{encoder} at {size} px: photos/s", round(scored["photos_per_second"], 1), "photos/s")
        row(f"{encoder} at {size} px: export size", round(megabytes, 1), "MB")
    return row


def main(argv: list[str] | None = None) -> list[dict]:
    parser = cli.ArgumentParser(prog="python -m bench transfer")
    parser.add_argument("--skip-cifar", action="store_true", help="cats and dogs and the speeds only")
    args = parser.parse_args(argv)
    if not CATS_DOGS.is_dir():
        print(f"transfer: skipped, no photos at {CATS_DOGS}", file=sys.stderr)
        return []
    with imagenet_cache() as cached, tempfile.TemporaryDirectory() as temporary:
        if not cached:
            print(f"transfer: skipped, no MobileNetV2 ImageNet weights (Keras's cache, {SHARED / 'weights'})")
            return []
        work = pathlib.Path(temporary)
        rows, photos = _compare("cats and dogs (2,000 photos, 200 test)", CATS_DOGS, work / "cats_dogs", 0.985)
        if CIFAR.is_dir() and not args.skip_cifar:
            rows += _compare("CIFAR-10, 300 images per class (300 test)", CIFAR, work / "cifar")[0]
        rows += _speeds(photos, work)
    return list(rows)


if __name__ == "__main__":
    print(format_table(main()))
