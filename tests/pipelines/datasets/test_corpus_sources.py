"""pipelines.datasets.corpus_sources and the embedded grammar: files, folders, CSV columns, splits, windows."""

from __future__ import annotations

import numpy as np
import pytest

from common.errors import UserError
from pipelines.configs.textgen import TextGenDataConfig
from pipelines.datasets import corpus_sources
from pipelines.datasets.embedded import chinese_sentences


def test_embedded_grammar_is_deterministic_and_recognises_its_own_sentences():
    first = chinese_sentences.sentences("validation", 50)
    assert first == chinese_sentences.sentences("validation", 50)
    assert first != chinese_sentences.sentences("test", 50)
    assert all(chinese_sentences.is_grammatical(s) for s in first)
    assert chinese_sentences.is_grammatical("我喜欢学习编程。")
    assert not chinese_sentences.is_grammatical("我喜欢学习编程")  # no full stop
    assert not chinese_sentences.is_grammatical("编程学习喜欢我。")


def test_text_file_is_split_80_10_10_by_line(corpus_file):
    corpus = corpus_sources.load(TextGenDataConfig(dataset=str(corpus_file)), seed=0)
    assert corpus.sizes == {"train": 240, "validation": 30, "test": 30}
    assert corpus.lines == corpus_sources.load(TextGenDataConfig(dataset=str(corpus_file)), seed=0).lines  # seeded
    assert corpus.text("validation").startswith("\n") and corpus.text("validation").endswith("。\n")
    lines = set(corpus_file.read_text(encoding="utf-8").splitlines())
    assert set(corpus.lines["train"]) | set(corpus.lines["validation"]) | set(corpus.lines["test"]) == lines


def test_folder_of_txt_files_and_a_short_text_cut_into_chunks(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.txt").write_text("我喜欢学习编程。" * 20, encoding="utf-8")
    (tmp_path / "two.txt").write_text("你喜欢唱歌。\n\n", encoding="utf-8")
    (tmp_path / "ignored.md").write_text("不是文本", encoding="utf-8")
    corpus = corpus_sources.load(TextGenDataConfig(dataset=str(tmp_path)))
    assert min(corpus.sizes.values()) >= 1
    text = "".join(corpus.text(split) for split in corpus_sources.SPLIT_NAMES)
    assert "不是" not in text and "唱歌" in text


def test_csv_column_is_the_corpus(tmp_path):
    path = tmp_path / "reviews.csv"
    rows = "".join(f'1,"很好吃,量大 {i}"\n' for i in range(40))
    path.write_text("label,review\n" + rows + "0,\n", encoding="utf-8")
    corpus = corpus_sources.load(TextGenDataConfig(dataset=str(path), text_column="review"))
    assert sum(corpus.sizes.values()) == 40
    assert corpus.lines["train"][0].startswith("很好吃,量大")
    with pytest.raises(UserError, match="TEXT_COLUMN"):
        corpus_sources.load(TextGenDataConfig(dataset=str(path), text_column="text"))


def test_bad_paths_and_empty_files_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        corpus_sources.load(TextGenDataConfig(dataset=str(tmp_path / "missing.txt")))
    (tmp_path / "empty.txt").write_text("\n\n", encoding="utf-8")
    with pytest.raises(UserError, match="no text"):
        corpus_sources.load(TextGenDataConfig(dataset=str(tmp_path / "empty.txt")))
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(UserError, match="UTF-8"):
        corpus_sources.load(TextGenDataConfig(dataset=str(tmp_path / "latin1.txt")))


def test_windows_pair_each_character_with_the_next():
    ids = np.arange(11, dtype=np.int64)
    pairs = list(corpus_sources.windows(ids, 4).as_numpy_iterator())
    assert len(pairs) == 2
    np.testing.assert_array_equal(pairs[1][0], [4, 5, 6, 7])
    np.testing.assert_array_equal(pairs[1][1], [5, 6, 7, 8])
    with pytest.raises(UserError, match="sequence_length"):
        corpus_sources.windows(ids[:3], 4)
