"""Grouped splits: no group (person, place, recording) in two of train/validation/test; the errors promised."""

from __future__ import annotations

import logging
import pathlib

import numpy as np
import pytest

from common.errors import UserError
from pipelines.datasets import groups, splits


def _ucf101_folder(root: pathlib.Path, classes=("ApplyEyeMakeup", "Biking", "Typing"), num_groups=25, clips=4):
    """Empty files named as UCF101 names them: v_<Class>_g<group>_c<clip>.avi, one folder per class."""
    paths, labels = [], []
    for label, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for group in range(1, num_groups + 1):
            for clip in range(1, clips + 1):
                path = root / name / f"v_{name}_g{group:02d}_c{clip:02d}.avi"
                path.touch()
                paths.append(path)
                labels.append(label)
    return paths, np.asarray(labels)


def _groups_of(split: groups.FolderSplit) -> list[set]:
    return [set(split.groups[part]) for part in split.parts]


def test_ucf101_names_are_grouped_without_a_flag_and_no_group_is_in_two_splits(tmp_path):
    paths, labels = _ucf101_folder(tmp_path)
    split = groups.split_folder(tmp_path, paths, labels, seed=0)
    assert split.method.startswith("UCF101")
    train, validation, test = _groups_of(split)
    assert train and validation and test
    assert not (train & validation) and not (train & test) and not (validation & test)
    assert sum(len(part) for part in split.parts) == len(paths)
    for part in split.parts:  # stratified as far as the groups allow: every class in every split
        assert set(labels[part]) == {0, 1, 2}
    assert 0.7 < len(split.parts[0]) / len(paths) < 0.9
    rows = split.rows(tmp_path, paths, ["ApplyEyeMakeup", "Biking", "Typing"], labels)
    assert {row["split"] for row in rows if row["group"] == "g01"} in ({"train"}, {"validation"}, {"test"})
    assert "train" in split.describe() and "group(s)" in split.describe()
    for seed in range(5):  # any seed: groups never straddle
        train, validation, test = _groups_of(groups.split_folder(tmp_path, paths, labels, seed=seed))
        assert not (train & validation) and not (train & test) and not (validation & test)


def test_hmdb51_names_group_by_movie():
    names = ["50_FIRST_DATES_drink_u_nm_np1_fr_goo_29", "Prelinger_brush_hair_h_nm_np1_le_goo_2"]
    found, method = groups.infer_groups(names, class_names=["drink", "brush_hair"])
    assert method.startswith("HMDB51") and list(found) == ["50_first_dates", "prelinger"]


def test_group_pattern_takes_its_first_capture_group(tmp_path):
    names = [f"actor{a}_{action}_{v}" for a in range(6) for action in ("bend", "jack") for v in "ab"]
    found, _ = groups.infer_groups(names, r"^(actor\d+)_")
    assert len(set(found)) == 6 and found[0] == "actor0"
    labels = np.asarray([0 if "bend" in n else 1 for n in names])
    parts = splits.grouped_split(labels, found, seed=1)
    assert [len(set(found[p])) for p in parts] == [4, 1, 1]  # six actors: 4 / 1 / 1, never a shared one


@pytest.mark.parametrize(
    "pattern, message",
    [(r"^actor\d+_", "no capture group"), (r"^(person\d+)_", "matches none"), (r"^(actor", "not a valid regular")],
)
def test_bad_group_patterns_are_user_errors(pattern, message):
    with pytest.raises(UserError, match=message):
        groups.infer_groups(["actor1_bend_a", "actor2_bend_a"], pattern)


def test_too_few_groups_names_the_minimum():
    with pytest.raises(UserError, match="needs at least 3 groups"):
        splits.grouped_split(np.array([0, 1, 0, 1]), np.array(["a", "a", "b", "b"]))


def test_split_files_in_ucf101_format(tmp_path):
    root = tmp_path / "data"
    paths, labels = _ucf101_folder(root, num_groups=10, clips=2)
    relative = [p.relative_to(root).as_posix() for p in paths]
    train_list, test_list = tmp_path / "trainlist01.txt", tmp_path / "testlist01.txt"
    test_names = [name for name in relative if "_g01_" in name or "_g02_" in name]
    train_list.write_text("".join(f"{name} 1\n" for name in relative if name not in test_names))
    test_list.write_text("".join(f"{name}\n" for name in test_names))
    split = groups.split_folder(root, paths, labels, split_files=f"{train_list},{test_list}")
    train, validation, test = _groups_of(split)
    assert test == {"g01", "g02"} and validation and not (train & validation) and not (train & test)
    missing = tmp_path / "missing.txt"
    missing.write_text("Biking/v_Biking_g99_c01.avi\n")
    with pytest.raises(UserError, match="not under"):
        groups.split_folder(root, paths, labels, split_files=f"{train_list},{missing}")
    with pytest.raises(UserError, match="does not exist"):
        groups.split_folder(root, paths, labels, split_files=f"{train_list},{tmp_path / 'nope.txt'}")


def test_without_groups_it_warns_once_and_splits_by_file(tmp_path, caplog):
    paths = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for index in range(10):
            (tmp_path / name / f"clip{index}.mp4").touch()
            paths.append(tmp_path / name / f"clip{index}.mp4")
    labels = np.repeat([0, 1], 10)
    with caplog.at_level(logging.WARNING):
        split = groups.split_folder(tmp_path, paths, labels, kind="video")
    assert split.groups is None and caplog.text.count("no groups found") == 1
    assert sorted(np.concatenate(split.parts)) == list(range(20))
