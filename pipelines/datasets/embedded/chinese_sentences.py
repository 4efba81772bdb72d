"""TFDS builder for the embedded text-generation corpus: simple Chinese sentences from a small grammar.

The seed example of recurrent generation is 我 → 喜欢 → 学习 → 编程: each word follows from the ones
before it. The grammar below writes sentences of that kind (subject, time, place, verb, object,
opinion, "because … so …"), so a character-level GRU/LSTM has real structure to learn: which
characters make up a word, which words may follow which, and where a sentence ends (。 or ？).

Generation is local and deterministic: sentence ``i`` of split ``s`` comes from a generator seeded by
``(s, i)``. Splits: 20,000 train, 2,000 validation, 2,000 test sentences, one ``text`` feature each.
"""

from __future__ import annotations

import re

import numpy as np
import tensorflow_datasets as tfds

from pipelines.datasets.embedded import offline_builder

SUBJECTS = ("我", "你", "他", "她", "我们", "他们", "老师", "妈妈", "爸爸", "小明", "小红", "我的朋友", "我的同学")
TIMES = ("今天", "明天", "昨天", "每天", "周末", "晚上", "早上")
PLACES = ("在家", "在学校", "在图书馆", "在公园", "在公司")
LIKES = ("喜欢", "爱", "想", "不喜欢")
ACTIVITIES = (
    "学习编程",
    "学习中文",
    "学习数学",
    "写代码",
    "看书",
    "唱歌",
    "跳舞",
    "画画",
    "踢足球",
    "打篮球",
    "听音乐",
    "做饭",
    "跑步",
    "游泳",
    "看电影",
)
DEGREES = ("很", "非常", "特别", "真")
OPINIONS = ("有意思", "难", "简单", "有用", "好玩")
TEMPLATES = (
    "{subject}{like}{activity}。",
    "{subject}{time}{place}{activity}。",
    "{subject}觉得{activity}{degree}{opinion}。",
    "{subject}想和{other}一起{activity}。",
    "因为{subject}{like}{activity}，所以{subject}经常{activity}。",
    "{subject}{time}要{activity}吗？",
    "{subject}会{activity}，也会{other_activity}。",
)
SPLIT_SIZES = {"train": 20_000, "validation": 2_000, "test": 2_000}
_SPLIT_SEEDS = {"train": 0, "validation": 1, "test": 2}


def make_sentence(rng: np.random.Generator) -> str:
    """One sentence of the grammar, e.g. 我喜欢学习编程。 or 小明觉得画画非常好玩。"""

    def pick(options):
        return options[rng.integers(len(options))]

    subject = pick(SUBJECTS)
    return pick(TEMPLATES).format(
        subject=subject,
        other=pick([s for s in SUBJECTS if s != subject]),
        time=pick(TIMES),
        place=pick(PLACES),
        like=pick(LIKES),
        activity=pick(ACTIVITIES),
        other_activity=pick(ACTIVITIES),
        degree=pick(DEGREES),
        opinion=pick(OPINIONS),
    )


def _grammar() -> re.Pattern:
    def alternatives(options):
        return "(?:" + "|".join(re.escape(option) for option in sorted(options, key=len, reverse=True)) + ")"

    parts = {
        "subject": alternatives(SUBJECTS),
        "other": alternatives(SUBJECTS),
        "time": alternatives(TIMES),
        "place": alternatives(PLACES),
        "like": alternatives(LIKES),
        "activity": alternatives(ACTIVITIES),
        "other_activity": alternatives(ACTIVITIES),
        "degree": alternatives(DEGREES),
        "opinion": alternatives(OPINIONS),
    }
    templates = [re.escape(template).replace(r"\{", "{").replace(r"\}", "}") for template in TEMPLATES]
    return re.compile("|".join("(?:" + template.format(**parts) + ")" for template in templates))


GRAMMAR = _grammar()


def is_grammatical(line: str) -> bool:
    """Whether ``line`` is a sentence this grammar can write (how well a generator learned the corpus's style)."""
    return GRAMMAR.fullmatch(line) is not None


def sentences(split: str, count: int | None = None) -> list[str]:
    """The first ``count`` sentences of ``split`` (all of them by default), exactly as the builder writes them."""
    count = SPLIT_SIZES[split] if count is None else count
    return [make_sentence(np.random.default_rng([20261204, _SPLIT_SEEDS[split], index])) for index in range(count)]


class ChineseSentences(offline_builder.OfflineBuilder):
    """Simple grammatical Chinese sentences (我喜欢学习编程。) for character-level language models."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({"text": tfds.features.Text()}),
            homepage="https://github.com/",  # generated locally; no download
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # nothing to download
        return {split: self._generate_examples(split) for split in SPLIT_SIZES}

    def _generate_examples(self, split: str):
        for index, text in enumerate(sentences(split)):
            yield index, {"text": text}
