"""pipelines.datasets.text_sources and the embedded builder: messy CSV/TSV files, folders, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from common.errors import UserError
from pipelines.configs.text import TextDataConfig
from pipelines.datasets import tables, text_sources
from pipelines.datasets.embedded import chinese_reference


def rows(count: int, labels=("好评", "差评")) -> str:
    return "".join(f"评论{i}号 味道不错,{labels[i % len(labels)]}\n" for i in range(count))


def test_make_sentence_is_deterministic_and_puts_the_pet_distance_characters_before_it():
    first = chinese_reference.make_sentence(np.random.default_rng(1), 0, 40)
    again = chinese_reference.make_sentence(np.random.default_rng(1), 0, 40)
    assert first == again
    assert any(word in first[:10] for word in chinese_reference.PET_WORDS["dog"])
    opening_end = first.index("，") + 1
    closing = next(c for c in chinese_reference.CLOSINGS if first.endswith(c))
    assert len(first) - opening_end - len(closing) == 40
    pets = "".join("".join(words) for words in chinese_reference.PET_WORDS.values())
    assert not set(pets) & set(first[opening_end : len(first) - len(closing)])


def test_parse_table_handles_quotes_crlf_and_stray_quotes():
    text = (
        'text,label\r\n"with, comma",1\r\n"doubled ""quote""",0\r\n'
        '"two\nlines",1\r\nmid"quote,0\r\n"never closed,1\r\nafter,0\r\n\r\n,\r\n'
    )
    header, parsed, malformed = tables.parse_table(text)
    assert header == ["text", "label"]
    assert parsed[:4] == [["with, comma", "1"], ['doubled "quote"', "0"], ["two\nlines", "1"], ['mid"quote', "0"]]
    assert ["never closed", "1"] in parsed and ["after", "0"] in parsed  # the stray quote swallowed nothing
    assert parsed.count([]) == 2 and malformed == 0


def test_csv_with_bom_crlf_empty_rows_and_string_labels(tmp_path):
    path = tmp_path / "reviews.csv"
    body = "\ufeffreview,label\r\n" + rows(30).replace("\n", "\r\n") + "\r\n,好评\r\n\r\n"
    path.write_bytes(body.encode("utf-8"))
    data = text_sources.load(TextDataConfig(dataset=str(path), text_column="review"))
    assert data.class_names == ["好评", "差评"]
    assert sum(data.sizes.values()) == 30 and data.skipped["empty_rows"] == 3
    assert set(data.sizes) == {"train", "validation", "test"} and min(data.sizes.values()) >= 2
    assert all(isinstance(t, str) and t.startswith("评论") for t in data.texts["train"])


def test_integer_labels_sort_numerically_and_tsv_is_detected(tmp_path):
    path = tmp_path / "data.tsv"
    path.write_text("label\ttext\n" + "".join(f"{[2, 10, 1][i % 3]}\tsample {i}\n" for i in range(30)))
    data = text_sources.load(TextDataConfig(dataset=str(path)))
    assert data.class_names == ["1", "2", "10"]
    first = data.texts["train"][0]
    assert data.class_names[data.labels["train"][0]] == str([2, 10, 1][int(first.split()[1]) % 3])


def test_folder_of_class_folders_of_txt(tmp_path):
    for name, word in (("pos", "好吃"), ("neg", "难吃")):
        (tmp_path / name).mkdir()
        for i in range(6):
            (tmp_path / name / f"{i}.txt").write_text(f"这家店{word}{i}", encoding="utf-8")
    (tmp_path / "pos" / "empty.txt").write_text("  ")
    data = text_sources.load(TextDataConfig(dataset=str(tmp_path)))
    assert data.class_names == ["neg", "pos"] and sum(data.sizes.values()) == 12


@pytest.mark.parametrize(
    "content, message",
    [
        ("text,label\n" + rows(10, labels=("好评",)), "only one class"),
        ("words,label\n" + rows(10), "no column 'text'"),
        (b"text,label\n\xff\xfe bad bytes,1\n", "not valid UTF-8"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not valid UTF-8"),
        ("", "is empty"),
    ],
)
def test_bad_files_raise_user_errors(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(UserError, match=message):
        text_sources.load(TextDataConfig(dataset=str(path)))


def test_missing_path_raises_user_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        text_sources.load(TextDataConfig(dataset=str(tmp_path / "nowhere.csv")))


def test_two_preparations_of_one_embedded_dataset_at_once_both_succeed(tmp_path, monkeypatch):
    """Two pipelines started together on a fresh clone (or two test processes) prepare the same
    dataset: without the per-dataset lock TFDS's final rename failed in one of them."""
    import threading

    from pipelines.datasets import tfds_source

    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(tfds_source, "_candidate_dirs", lambda: [tmp_path])  # not ~/tensorflow_datasets
    results, errors = [], []

    def prepare():
        try:
            results.append(tfds_source.prepared_builder("chinese_reference/distance_5").is_prepared())
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=prepare) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and results == [True, True]


def test_text_folders_split_by_group_pattern(tmp_path):
    for name, word in (("pos", "好吃"), ("neg", "难吃")):
        (tmp_path / name).mkdir()
        for user in range(4):
            for i in range(2):
                (tmp_path / name / f"user{user}_{i}.txt").write_text(f"这家店{word}{i}", encoding="utf-8")
    data = text_sources.load(TextDataConfig(dataset=str(tmp_path), group_pattern=r"^(user\d+)_"))
    splits_of = {}
    for row in data.split_rows:
        splits_of.setdefault(row["group"], set()).add(row["split"])
    assert len(splits_of) == 4 and all(len(found) == 1 for found in splits_of.values())
    assert {row["split"] for row in data.split_rows} == {"train", "validation", "test"}
    assert sum(data.sizes.values()) == 16
