"""serving.textgen_export.Generator in process: prompts kept, edge cases, seeds, greedy/top-k, step = generate."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from models import char_rnn
from serving.export import textgen_export

CHARACTERS = ["\n", "我", "喜", "欢", "学", "习", "编", "程", "。"]


@pytest.fixture(scope="module")
def generator():
    import types

    config = types.SimpleNamespace(cell="lstm", units=(8,), embedding_dim=4, dropout=0.0)
    model = char_rnn.build_char_rnn(config, len(CHARACTERS) + 1)
    defaults = {"length": 7, "temperature": 1.0, "seed": 0, "top_k": 0}
    return textgen_export.Generator(model, CHARACTERS, defaults, context_characters=16)


@pytest.fixture(scope="module")
def generate(generator):
    function = tf.function(generator.generate)

    def call(prompts, length=10, temperature=1.0, seed=0, top_k=0):
        texts = function(
            tf.constant(prompts, tf.string),
            tf.constant(length),
            tf.constant(temperature),
            tf.constant(seed, tf.int64),
            tf.constant(top_k),
        )["text"]
        return [t.decode("utf-8") for t in texts.numpy()]

    return call


def test_prompt_kept_and_edge_cases_do_not_fail(generate):
    prompts = ["我喜欢", "", "🙂 never seen ǅ", "我" * 100]  # Chinese, empty, out-of-vocabulary, beyond the context
    texts = generate(prompts, length=12)
    for prompt, text in zip(prompts, texts):
        assert text.startswith(prompt) and len(text) == len(prompt) + 12
        assert set(text[len(prompt) :]) <= set(CHARACTERS)  # never [UNK]
    assert generate(prompts, length=0) == prompts
    assert len(generate(["我"], length=3000)[0]) == 3001
    assert len(generate(["我"], length=-5)[0]) == 1  # clipped to 0
    assert len(generate(["我"], length=10**9)[0]) == 1 + textgen_export.MAX_LENGTH


def test_same_seed_same_text_and_other_seeds_differ(generate):
    first = generate(["我喜欢", ""], length=40, seed=7)
    assert generate(["我喜欢", ""], length=40, seed=7) == first
    assert generate(["我喜欢"], length=40, seed=7)[0] == first[0]  # row 0 does not depend on the batch size
    assert any(generate(["我喜欢", ""], length=40, seed=s) != first for s in (8, 9))


def test_greedy_and_top_1_agree(generate):
    greedy = generate(["我", "学"], length=20, temperature=0.0, seed=1)
    assert generate(["我", "学"], length=20, temperature=0.0, seed=2) == greedy  # greedy ignores the seed
    assert generate(["我", "学"], length=20, temperature=1.0, seed=3, top_k=1) == greedy


def test_step_streams_the_same_distribution_as_generate(generator, generate):
    """Feeding "\\n" + prompt, then each greedy character, through step reproduces serving_default's text."""
    step = tf.function(generator.step)
    states = [np.zeros([1, units], np.float32) for units in generator.state_sizes]
    outputs = step(tf.constant(["\n我喜"]), *states)
    text = "我喜"
    for _ in range(6):
        probabilities = outputs["probabilities"].numpy()
        assert probabilities[0, 0] == 0.0 and abs(probabilities.sum() - 1) < 1e-5  # [UNK] never comes next
        character = generator.classes[int(probabilities.argmax())]
        text += character
        states = [outputs[f"state_{i}"] for i in range(len(states))]
        outputs = step(tf.constant([character]), *states)
    assert text == generate(["我喜"], length=6, temperature=0.0)[0]
