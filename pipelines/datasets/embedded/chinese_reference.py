"""TFDS builder for the embedded text dataset: what does 它 refer to, many characters later?

Each example is a Chinese sentence in the spirit of 我的狗很聪明，……，它可以帮我拿报纸。: an opening
clause names a pet (the label: dog, cat, parrot or rabbit), then come exactly ``distance``
distractor characters (everyday filler that never names a pet), then a closing clause about 它
("it") that is the same for every class. A left-to-right recurrent model must carry the pet from
the start of the sentence to its end, so ``distance`` is the memory span being tested. Each
distance is a builder config (``chinese_reference/distance_40``, ...); generation is local and
deterministic (every sentence's generator is seeded by its distance, split and index).

Validation and test sentences have exactly ``distance`` distractor characters, so their accuracy
measures memory at that distance. Training sentences have a uniformly random number from 0 to
``distance``: the short ones show a model what to remember (with only long ones, a GRU sits at
chance for many epochs before the gradient through 40+ steps finds the pet), and it then has to
carry it across the long ones.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from pipelines.datasets.embedded import offline_builder

CLASS_NAMES = ("dog", "cat", "parrot", "rabbit")
# Surface forms of each class; no character of these appears in the filler below.
PET_WORDS = {
    "dog": ("狗", "小狗", "狗狗"),
    "cat": ("猫", "小猫", "猫咪"),
    "parrot": ("鹦鹉", "小鹦鹉"),
    "rabbit": ("兔子", "小兔子", "白兔"),
}
OPENINGS = ("我的{}很聪明，", "我家那只{}特别乖，", "我养的{}今年三岁了，", "我最喜欢我的{}，", "邻居送给我一只{}，")
FILLER = (
    "今天天气很好",
    "我们一起去公园散步",
    "路上有很多人和车",
    "妈妈在厨房做饭",
    "下午我在图书馆看书",
    "晚上我们看了一部电影",
    "周末朋友来我家玩",
    "楼下的超市开始打折",
    "爸爸买了新的自行车",
    "外面下着小雨",
    "我弟弟正在写作业",
    "明天要去银行办事",
    "这条街上新开了一家饭店",
    "老师说考试下周开始",
    "早上的地铁非常拥挤",
    "奶奶种的花都开了",
)
CLOSINGS = ("它可以帮我拿报纸。", "它总是在门口等我回家。", "它每天早上叫我起床。", "所以它是我最好的朋友。")
DISTANCES = (5, 10, 20, 40, 80, 160)
DEFAULT_DISTANCE = 40
SPLIT_SIZES = {"train": 8000, "validation": 1000, "test": 1000}
_SPLIT_SEEDS = {"train": 0, "validation": 1, "test": 2}


def distractors(rng: np.random.Generator, num_characters: int) -> str:
    """Exactly ``num_characters`` characters of filler clauses joined by ，."""
    text = ""
    while len(text) < num_characters:
        text += FILLER[rng.integers(len(FILLER))] + "，"
    return text[:num_characters]


def make_sentence(rng: np.random.Generator, label: int, distance: int) -> str:
    """One sentence whose class (index into CLASS_NAMES) is stated ``distance`` characters before 它's clause."""
    words = PET_WORDS[CLASS_NAMES[label]]
    opening = OPENINGS[rng.integers(len(OPENINGS))].format(words[rng.integers(len(words))])
    return opening + distractors(rng, distance) + CLOSINGS[rng.integers(len(CLOSINGS))]


@dataclasses.dataclass
class ChineseReferenceConfig(tfds.core.BuilderConfig):
    distance: int = DEFAULT_DISTANCE


class ChineseReference(offline_builder.OfflineBuilder):
    """Chinese sentences whose pet (the label) is named ``distance`` filler characters before the end."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    BUILDER_CONFIGS = [
        ChineseReferenceConfig(name=f"distance_{d}", description=f"{d} distractor characters", distance=d)
        for d in DISTANCES
    ]
    DEFAULT_CONFIG_NAME = f"distance_{DEFAULT_DISTANCE}"

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {"text": tfds.features.Text(), "label": tfds.features.ClassLabel(names=list(CLASS_NAMES))}
            ),
            supervised_keys=("text", "label"),
            homepage="https://github.com/",  # generated locally; no download
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # nothing to download
        return {split: self._generate_examples(split) for split in SPLIT_SIZES}

    def _generate_examples(self, split: str):
        distance = self.builder_config.distance
        for index in range(SPLIT_SIZES[split]):
            rng = np.random.default_rng([20261127, distance, _SPLIT_SEEDS[split], index])
            label = index % len(CLASS_NAMES)  # balanced classes
            num_distractors = int(rng.integers(0, distance + 1)) if split == "train" else distance
            yield index, {"text": make_sentence(rng, label, num_distractors), "label": label}
