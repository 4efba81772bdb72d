"""``make classify-image``: a photo's top classes, a folder's predictions.csv and page, heat maps, the
server path equal to the in-process one, and bad input refused in one line before TensorFlow loads."""

from __future__ import annotations

import csv
import re
import struct
import zlib

import cv2
import keras
import numpy as np
import pytest

from common import cli
from common import config as config_lib
from models import cnn
from pipelines.configs.image import PRESETS
from serving.classify import image as classify_image
from serving.export import image_export
from tests.helpers import exits_without_tensorflow

CLASSES = ["horizontal", "vertical"]
SIZE = 24


def _photo(rng, kind: int, height: int = 40, width: int = 56) -> np.ndarray:
    """Stripes across (kind 0) or down (kind 1) the photo, a period of a fifth of its side, in noise."""
    rows, columns = np.mgrid[0:height, 0:width]
    phase = rows / height if kind == 0 else columns / width
    stripes = 127 + 90 * np.sign(np.sin(2 * np.pi * 5 * phase))
    return np.clip(stripes[..., None] + rng.normal(0, 20, (height, width, 3)), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def export_root(tmp_path_factory):
    """An image export that tells stripes across from stripes down (a small CNN, trained in seconds)."""
    rng = np.random.default_rng(0)
    kinds = np.arange(200) % 2
    images = np.stack([_photo(rng, kind, SIZE, SIZE) for kind in kinds])
    settings = config_lib.replace(PRESETS["tiny"], image_size=SIZE, filters=(4, 8), dense_units=8).resolved()
    model = cnn.build_image_classifier(settings.model, 2)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    model.fit(images, kinds, epochs=6, batch_size=32, verbose=0)
    root = tmp_path_factory.mktemp("export")
    image_export.export_image_model(model, CLASSES, config_lib.to_dict(settings), root, images[:4])
    return root


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory):
    """Class sub-folders of PNG and JPEG photos of two sizes, one of them in the wrong folder."""
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(1)
    for kind, name in enumerate(CLASSES):
        (root / name).mkdir()
        for index in range(4):
            extension = ".png" if index % 2 else ".jpg"
            cv2.imwrite(str(root / name / f"{index}{extension}"), _photo(rng, kind, 30 + 10 * index)[..., ::-1])
    cv2.imwrite(str(root / "horizontal" / "really_vertical.png"), _photo(rng, 1))  # a mistake for the page
    return root


def _predictions(path):
    with open(path, encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_one_photo_prints_its_top_classes_one_per_line(export_root, photo_folder, tmp_path, capsys):
    code = cli.run(classify_image.main, [str(photo_folder / "vertical" / "1.png"), "--export-dir", str(export_root)])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0 and [line.split()[0] for line in lines] == ["vertical", "horizontal"], lines
    assert all(re.fullmatch(r"\w+ [01]\.\d\d", line) for line in lines) and float(lines[0].split()[1]) > 0.5
    tiny = tmp_path / "one_pixel.png"
    cv2.imwrite(str(tiny), np.full((1, 1, 3), 230, np.uint8))
    assert cli.run(classify_image.main, [str(tiny), "--export-dir", str(export_root), "--top", "1"]) == 0
    assert capsys.readouterr().out.split()[0] in CLASSES


def test_a_folder_gets_predictions_a_page_with_the_mistakes_first_and_heat_maps(export_root, photo_folder, tmp_path):
    out = tmp_path / "out"
    argv = [str(photo_folder), "--export-dir", str(export_root), "--out", str(out), "--explain"]
    assert cli.run(classify_image.main, argv) == 0
    rows = _predictions(out / "predictions.csv")
    assert list(rows[0]) == ["file", "label", "score", *CLASSES] and len(rows) == 9
    by_file = {row["file"]: row for row in rows}
    assert by_file["horizontal/really_vertical.png"]["label"] == "vertical"
    assert by_file["vertical/0.jpg"]["label"] == "vertical" and by_file["horizontal/1.png"]["label"] == "horizontal"
    for row in rows:
        assert abs(sum(float(row[name]) for name in CLASSES) - 1) < 1e-4
        assert float(row["score"]) == max(float(row[name]) for name in CLASSES)
    page = (out / "index.html").read_text(encoding="utf-8")
    assert page.index("Accuracy") < page.index("Mistakes") < page.index("All photos")
    assert "true: horizontal" in page and "<table>" in page
    sources = re.findall(r'src="([^"]+)"', page)
    assert len(sources) == 2 * (9 + 1)  # every photo and its heat map, the mistake twice
    for source in sources:
        assert not source.startswith(("http:", "https:", "//")) and (out / source).is_file(), source


def test_through_the_server_the_photos_own_bytes_get_the_same_answers(export_root, photo_folder, tmp_path, dev_server):
    server = dev_server(export_root)
    local, remote = tmp_path / "local", tmp_path / "remote"
    assert cli.run(classify_image.main, [str(photo_folder), "--export-dir", str(export_root), "--out", str(local)]) == 0
    assert cli.run(classify_image.main, [str(photo_folder), "--server", server.url, "--out", str(remote)]) == 0
    server.stop()
    for mine, theirs in zip(_predictions(local / "predictions.csv"), _predictions(remote / "predictions.csv")):
        assert mine["file"] == theirs["file"] and mine["label"] == theirs["label"]
        for name in CLASSES:
            assert abs(float(mine[name]) - float(theirs[name])) < 1e-5


def _bomb_png(path, side: int = 30000) -> None:
    """A PNG whose header says side x side pixels, in a few bytes: decoding it would need gigabytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )


def test_bad_photos_are_one_line_and_exit_2_before_tensorflow_loads(tmp_path, export_root):
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.png").write_text("not an image")
    _bomb_png(tmp_path / "bomb.png")
    (tmp_path / "no_photos").mkdir()
    (tmp_path / "no_photos" / "notes.txt").write_text("nothing to see")
    cases = {
        "missing.jpg": "does not exist",
        "empty.jpg": "is empty",
        "text.png": "is not an image",
        "bomb.png": "30000x30000 (900 megapixels), over the 64-megapixel limit: refused, not decoded",
        "no_photos": "holds no photos",
    }
    calls = [("serving.classify.image", [str(tmp_path / name), "--export-dir", str(export_root)]) for name in cases]
    codes, tensorflow_loaded, errors = exits_without_tensorflow(calls)
    assert codes == [2] * len(cases) and not tensorflow_loaded and len(errors) == len(cases), errors
    for error, message in zip(errors, cases.values()):
        assert message in error, error
    assert (tmp_path / "bomb.png").stat().st_size < 1000


def test_a_folder_with_an_unreadable_photo_classifies_the_rest_and_exits_1(export_root, tmp_path, capsys):
    cv2.imwrite(str(tmp_path / "good.png"), _photo(np.random.default_rng(2), 0))
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    out = tmp_path / "out"
    assert cli.run(classify_image.main, [str(tmp_path), "--export-dir", str(export_root), "--out", str(out)]) == 1
    assert [row["file"] for row in _predictions(out / "predictions.csv")] == ["good.png"]
    assert "broken.jpg is not an image" in capsys.readouterr().err
    assert "Not classified (1)" in (out / "index.html").read_text()
