"""Folder-of-class-folders image source: any size and mode, corrupt files skipped, bad folders refused."""

import logging

import cv2
import numpy as np
import pytest

from common.errors import UserError
from pipelines.configs.image import ImageDataConfig
from pipelines.datasets import image_sources, splits


def write_images(root, counts, size=(30, 20)):
    rng = np.random.default_rng(0)
    for class_name, count in counts.items():
        folder = root / class_name
        folder.mkdir(parents=True)
        for index in range(count):
            image = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            cv2.imwrite(str(folder / f"{index}.png"), image)
    return root


def test_mixed_modes_sizes_and_a_corrupt_file(tmp_path, caplog):
    root = write_images(tmp_path / "data", {"cats": 10, "dogs": 10})
    cv2.imwrite(str(root / "cats" / "gray.jpg"), np.full((50, 70), 128, np.uint8))
    cv2.imwrite(str(root / "dogs" / "alpha.png"), np.full((12, 12, 4), 200, np.uint8))
    (root / "dogs" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    (root / "dogs" / "notes.txt").write_text("ignored: not an image extension")
    with caplog.at_level(logging.WARNING):
        data = image_sources.load(ImageDataConfig(dataset=str(root)), image_size=16)
    assert "skipped 1 unreadable image" in caplog.text
    assert data.class_names == ["cats", "dogs"]
    assert sum(data.sizes.values()) == 22
    for image, label in data.train.take(3):
        assert image.shape == (16, 16, 3) and image.dtype.name == "uint8" and int(label) in (0, 1)


@pytest.mark.parametrize(
    "layout, message",
    [
        (None, "does not exist"),
        ({}, "no class sub-folders"),
        ({"only": 6}, "only one class"),
        ({"a": 6, "b": 2}, "fewer than 3 examples"),
    ],
)
def test_bad_folders_are_user_errors(tmp_path, layout, message):
    root = tmp_path / "data"
    if layout is not None:
        root.mkdir()
        write_images(root, layout) if layout else None
    with pytest.raises(UserError, match=message):
        image_sources.load(ImageDataConfig(dataset=str(root)), image_size=16)


def test_stratified_split_keeps_class_shares():
    labels = np.array([0] * 50 + [1] * 30 + [2] * 10)
    train, validation, test = splits.stratified_split(labels, seed=3)
    assert len(train) + len(validation) + len(test) == len(labels)
    assert not set(train) & set(validation) and not set(train) & set(test) and not set(validation) & set(test)
    for label, count in ((0, 50), (1, 30), (2, 10)):
        assert abs((labels[train] == label).sum() - 0.8 * count) <= 1
        assert (labels[test] == label).sum() >= 1
    again = splits.stratified_split(labels, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip((train, validation, test), again))


def test_unknown_tfds_name_fails_fast():
    with pytest.raises(UserError, match="unknown TFDS dataset"):
        image_sources.load(ImageDataConfig(dataset="tfds:surely_not_a_dataset_name"), image_size=16)


def test_image_folders_split_by_group_pattern(tmp_path):
    rng = np.random.default_rng(0)
    for class_name in ("cat", "dog"):
        (tmp_path / class_name).mkdir()
        for person in range(5):
            for shot in range(3):
                image = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
                cv2.imwrite(str(tmp_path / class_name / f"person{person}_{shot}.png"), image)
    data = image_sources.load(ImageDataConfig(dataset=str(tmp_path), group_pattern=r"^(person\d+)_"), 8)
    groups_by_split = {}
    for row in data.split_rows:
        groups_by_split.setdefault(row["split"], set()).add(row["group"])
    assert set(groups_by_split) == {"train", "validation", "test"}
    assert not (groups_by_split["train"] & groups_by_split["test"])
    assert not (groups_by_split["train"] & groups_by_split["validation"])
    assert sum(data.sizes.values()) == 30
    with pytest.raises(UserError, match="matches none"):
        image_sources.load(ImageDataConfig(dataset=str(tmp_path), group_pattern=r"^(actor\d+)_"), 8)
