"""Classify a photo or a folder of photos with the image model: ``make classify-image IMAGE=...``.

    python -m serving.classify.image PHOTO|FOLDER [--server URL] [--out DIR] [--explain] [--top 5]
        [--runtime savedmodel|litert] [--precision float32|float16|int8] [--export-dir export] [--batch-size 16]

- One photo: its top classes with their probabilities, one per line (``cat 0.99``), on stdout.
  ``--explain`` also writes ``OUT/gradcam.jpg`` (default ``runs/classify_image/<photo stem>/``).
- A folder (class sub-folders optional): ``OUT/predictions.csv`` (file, label, score, one probability
  column per class) and ``OUT/index.html``, a page of thumbnails with their labels (offline); when the
  photos sit in class sub-folders, accuracy, the confusion matrix and the mistakes come first.
  ``--explain``: a Grad-CAM heat map over every photo, on the page and in ``OUT/explain/``.

Photos go as their own JPEG/PNG bytes to the export's ``encoded`` signature, in this process or, with
``--server``, through TF Serving's REST API: the model decodes them, as it would any client's. Heat
maps need the model's layers, so ``--explain`` reads the local export even with ``--server``.
``--runtime litert`` classifies with the ``.tflite`` file of ``make export-lite MODEL=image`` at
``--precision`` instead, one photo per call: each photo is decoded with TensorFlow's decoders and
resized to the model's size with the anti-aliased bilinear resize its training photos had
(``models.resizing``), as a device application would before calling the model.

Bad input is one line and exit 2, before TensorFlow loads: a missing path, an empty file, a file that
is not an image, a decompression bomb (``photos.MAX_PIXELS``), a folder without photos. In a folder, a
photo that cannot be read is reported on one line and skipped; the exit status is then 1.
"""

from __future__ import annotations

import csv
import pathlib
import sys
from collections.abc import Sequence

import cv2
import numpy as np
from tqdm import tqdm

from common import cli, quiet
from common.errors import UserError
from serving.classify import gradcam, image_page, litert_classifiers, photos
from serving.export import layout, litert_convert
from serving.rest import client as rest_client

MODEL = "image"


def build_parser() -> cli.ArgumentParser:
    parser = cli.ArgumentParser(
        prog="python -m serving.classify.image", description="Classify a photo or a folder of photos."
    )
    parser.add_argument("image", help="a photo (jpg, png, bmp, webp) or a folder of photos")
    parser.add_argument("--server", default=None, help="TF Serving REST URL, e.g. http://127.0.0.1:8501")
    parser.add_argument(
        "--runtime",
        default="savedmodel",
        choices=litert_classifiers.RUNTIMES,
        help="savedmodel, or litert: the .tflite of make export-lite MODEL=image",
    )
    parser.add_argument(
        "--precision", default="float32", choices=litert_convert.PRECISIONS, help="--runtime litert: which file"
    )
    parser.add_argument("--out", default=None, help="output folder (default runs/classify_image/<name>/)")
    parser.add_argument("--export-dir", default="export", help="TF Serving model base directory")
    parser.add_argument("--explain", action="store_true", help="a Grad-CAM heat map per photo")
    parser.add_argument("--top", type=int, default=5, help="classes printed for one photo")
    parser.add_argument("--batch-size", type=int, default=16, help="photos per inference call")
    return parser


class PhotoClassifier:
    """``classify([bytes]) → (n, classes)`` probabilities from the ``encoded`` signature, here or over REST,
    or (``runtime="litert"``) from the LiteRT file at ``precision``."""

    def __init__(self, export_root: str, server: str | None, runtime: str = "savedmodel", precision: str = "float32"):
        self.server = server
        self._lite = None
        if runtime == "litert":
            if server:
                raise UserError("--runtime litert runs the .tflite file in this process: leave out --server")
            self._lite = litert_classifiers.LiteRTClassifier(MODEL, export_root, precision)
            self.class_names, self.version, self.where = self._lite.class_names, self._lite.version, self._lite.location
            quiet.import_tensorflow()  # its decoders and resize: the pixels the model was trained on
            return
        if server:
            try:
                self._client = rest_client.Client(server, timeout=120)
                self.version = self._client.latest_version(MODEL)
                self.class_names = self._client.class_names(MODEL)
            except (ValueError, ConnectionError, OSError, rest_client.ModelServerError) as error:
                raise UserError(f"cannot use model '{MODEL}' at {server}: {error}") from None
            self.where = server
            return
        version_dir = layout.latest_version_dir(export_root, MODEL)
        if version_dir is None:
            raise UserError(f"no image model exported under {export_root}/ yet; run `make train-image` first")
        quiet.import_tensorflow()
        import tensorflow as tf  # deferred: bad input is refused before TensorFlow loads

        self._tf = tf
        loaded = tf.saved_model.load(str(version_dir))
        if "encoded" not in loaded.signatures:
            raise UserError(f"{version_dir} has no 'encoded' signature; re-export the image model")
        self._encoded = loaded.signatures["encoded"]
        names = loaded.signatures["classes"](query=tf.constant([""]))["classes"].numpy()[0]
        self.class_names = [name.decode("utf-8") for name in names]
        self.version, self.where = int(version_dir.name), str(version_dir.resolve())
        self._loaded = loaded

    def classify(self, data: list[bytes]) -> np.ndarray:
        if self._lite is not None:
            import tensorflow as tf  # deferred: loaded by then

            from models import resizing  # deferred with TensorFlow: --runtime litert needs it only here

            size = self._lite.image_size
            pixels = [
                resizing.resize_uint8(tf.io.decode_image(b, channels=3, expand_animations=False), size) for b in data
            ]
            return self._lite(np.stack([image.numpy() for image in pixels]))
        if self.server:
            inputs = {"image_bytes": np.array(data, dtype=object)}
            try:
                outputs = self._client.predict(MODEL, inputs, signature_name="encoded")
            except (ConnectionError, OSError, rest_client.ModelServerError) as error:
                raise UserError(f"request to {self.server} failed: {error}") from None
            return np.asarray(outputs["probabilities"], np.float32)
        tf = self._tf
        return self._encoded(image_bytes=tf.constant(data))["probabilities"].numpy()


def default_out(image: str) -> pathlib.Path:
    path = pathlib.Path(image)
    return pathlib.Path("runs") / "classify_image" / (path.stem or path.resolve().name)


def _decoded(photo: photos.Photo) -> np.ndarray:
    """RGB uint8 pixels, decoded as the model decodes them (TensorFlow's decoders)."""
    import tensorflow as tf  # deferred: loaded by then

    return tf.io.decode_image(photos.read_bytes(photo), channels=3, expand_animations=False).numpy()


def classify_photos(classifier: PhotoClassifier, checked: list[photos.Photo], batch_size: int) -> np.ndarray:
    """Probabilities of every photo, ``batch_size`` at a time, with a progress bar on stderr for folders."""
    rows = []
    with tqdm(total=len(checked), unit="photo", file=sys.stderr, disable=len(checked) < 2) as progress:
        for start in range(0, len(checked), batch_size):
            batch = checked[start : start + batch_size]
            rows.append(classifier.classify([photos.read_bytes(photo) for photo in batch]))
            progress.update(len(batch))
    return np.concatenate(rows)


def explain(explainer, photo: photos.Photo, class_index: int, path: pathlib.Path) -> pathlib.Path:
    """Writes the photo with its Grad-CAM heat map (for ``class_index``) over it, as JPEG."""
    pixels = _decoded(photo)
    heat, _ = explainer.heatmap(pixels, class_index)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), gradcam.overlay(pixels, heat)[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    return path


def make_explainer(args, classifier: PhotoClassifier):
    version_dir = layout.latest_version_dir(args.export_dir, MODEL)
    if version_dir is None:
        raise UserError(f"--explain needs the image export locally (under {args.export_dir}/): it takes gradients")
    return gradcam.Explainer.from_export(version_dir, len(classifier.class_names))


def one_photo(args, photo: photos.Photo) -> int:
    classifier = PhotoClassifier(args.export_dir, args.server, args.runtime, args.precision)
    probabilities = classify_photos(classifier, [photo], 1)[0]
    order = np.argsort(-probabilities)[: max(1, args.top)]
    for index in order:
        print(f"{classifier.class_names[index]} {probabilities[index]:.2f}")
    if args.explain:
        out = pathlib.Path(args.out) if args.out else default_out(args.image)
        path = explain(make_explainer(args, classifier), photo, int(order[0]), out / "gradcam.jpg")
        print(f"heat map: {path}", file=sys.stderr)
    return 0


def folder(args, root: pathlib.Path) -> int:
    paths, classes = photos.find(root)
    checked, failed = [], []
    for path in paths:
        name = path.relative_to(root).as_posix()
        try:
            checked.append(photos.check(path, name, classes[path] if classes else None))
        except UserError as error:
            failed.append((name, str(error)))
            print(f"error: {error}", file=sys.stderr)
    if not checked:
        raise UserError(f"none of the {len(paths)} photo(s) under {root} can be read (see above)")
    out = pathlib.Path(args.out) if args.out else default_out(args.image)
    out.mkdir(parents=True, exist_ok=True)
    classifier = PhotoClassifier(args.export_dir, args.server, args.runtime, args.precision)
    probabilities = classify_photos(classifier, checked, args.batch_size)
    class_names = classifier.class_names
    with open(out / "predictions.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label", "score", *class_names])
        for photo, row in zip(checked, probabilities):
            top = int(row.argmax())
            writer.writerow([photo.name, class_names[top], f"{row[top]:.6f}", *(f"{p:.6f}" for p in row)])
    explained = {}
    if args.explain:
        explainer = make_explainer(args, classifier)
        for photo, row in zip(checked, probabilities):
            target = out / "explain" / image_page.file_name(photo.name)
            explained[photo.name] = explain(explainer, photo, int(row.argmax()), target)
    page = image_page.write_page(out, root, checked, probabilities, class_names, explained, failed, classifier.where)
    labelled = [photo for photo in checked if photo.true_label is not None]
    if labelled:
        correct = sum(class_names[int(row.argmax())] == photo.true_label for photo, row in zip(checked, probabilities))
        print(f"accuracy {correct / len(checked):.4f} ({correct} of {len(checked)} photos)")
    print(f"{len(checked)} photo(s) classified by {MODEL} v{classifier.version} ({classifier.where})")
    print(f"outputs: {out} (predictions.csv, {page.name})")
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.batch_size < 1 or args.top < 1:
        raise UserError("--batch-size and --top must be at least 1")
    path = pathlib.Path(args.image).expanduser()
    if path.is_dir():
        return folder(args, path)
    return one_photo(args, photos.check(path))


if __name__ == "__main__":
    sys.exit(cli.run(main))
