"""Export of the character-level generator: the whole sampling loop in the graph, plus ``step`` and ``classes``.

Signatures of ``export/textgen/<version>/``:

- ``serving_default``: ``prompt`` string (batch,), and ``length`` int32, ``temperature`` float32,
  ``seed`` int64, all scalars → ``text`` string (batch,): each prompt followed by ``length`` generated
  characters. The three scalars have defaults recorded in the SignatureDef (``defaults``), so gRPC
  clients and ``tf.saved_model.load(path).serving_default(prompt)`` may leave them out. TF Serving's
  REST decoder wants every input, so REST clients send all four in the columnar form::

      POST /v1/models/textgen:predict
      {"inputs": {"prompt": ["我喜欢"], "length": 50, "temperature": 0.5, "seed": 1}}
      → {"outputs": ["我喜欢学习编程。\\n…"]}

  ``temperature`` ≤ 0 means greedy (always the most likely character); ``length`` is clipped to
  [0, MAX_LENGTH]. The same prompt, seed, length and temperature in the same batch position give
  the same text (stateless random ops keyed by ``(seed, step)``).
- ``generate``: the same plus ``top_k`` int32 (0 = every character; k keeps the k most likely).
- ``step``: ``characters`` string (batch,) (one or more characters per row; an empty row means a
  line break) and ``state_0``, ``state_1``, … float32 (batch, units) (zeros to start) →
  ``probabilities`` (batch, vocabulary) over the characters that ``classes`` lists (``[UNK]`` at 0,
  never predicted) and the new ``state_i``. Feeding ``"\\n" + prompt`` from zero states and then each
  chosen character reproduces ``serving_default``'s distribution at every step.
- ``classes``: ``query`` string (batch,) (ignored) → ``classes`` (batch, vocabulary): the characters
  in ``probabilities`` order.

Only core TensorFlow ops (StringLookup's hash table, UnicodeDecode, StatelessRandomUniform,
While); the recurrent cells are called step by step, never as cuDNN kernels.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from models import char_rnn
from serving.export import publish, signatures

NAME = "textgen"
MAX_LENGTH = 10_000
LINE_BREAK = "\n"
# Prompts, seeds and lengths every export must answer identically in a fresh process.
CHECK_PROMPTS = ["我喜欢", "", "🙂☃ unseen ǅ", "我们今天在学校"]


class Generator:
    """Graph functions over a trained :func:`models.char_rnn.build_char_rnn` model.

    Args:
        model: the trained model.
        characters: the vocabulary (without ``[UNK]``), in id order 1, 2, ….
        defaults: ``length``, ``temperature``, ``seed`` and ``top_k`` used when a caller leaves them out.
        context_characters: how many trailing prompt characters condition the generation (a
            100k-character prompt costs this many steps, not 100k); the whole prompt is returned.
    """

    def __init__(self, model: keras.Model, characters: list[str], defaults: dict[str, Any], context_characters: int):
        self.model = model
        self.lookup = char_rnn.make_lookup(characters)
        self.lookup(tf.constant([LINE_BREAK]))  # builds it: the archive only tracks built layers
        self.classes = [char_rnn.OOV_TOKEN] + list(characters)
        self.vocabulary = tf.constant(self.classes)
        self.state_sizes = char_rnn.state_shapes(model)
        self.defaults = defaults
        self.context_characters = int(context_characters)

    # --- pieces ------------------------------------------------------------------------------

    def _encode(self, texts: tf.Tensor, keep_last: int | None):
        """(batch,) strings → ids (batch, time) right-padded, and lengths (batch,) ≥ 1."""
        texts = tf.where(tf.strings.length(texts) > 0, texts, LINE_BREAK)
        characters = tf.strings.unicode_split(texts, "UTF-8", errors="replace")  # ragged (batch, (chars))
        if keep_last is not None:
            characters = characters[:, -keep_last:]
        ids = tf.ragged.map_flat_values(self.lookup, characters)
        return ids.to_tensor(default_value=0), tf.cast(ids.row_lengths(), tf.int32)

    def _step(self, token_ids, states):
        probabilities, states = char_rnn.next_character(self.model, token_ids, states)
        # [UNK] (id 0) is never a real next character: drop it and renormalise.
        probabilities = tf.concat([tf.zeros_like(probabilities[:, :1]), probabilities[:, 1:]], axis=-1)
        return probabilities / tf.reduce_sum(probabilities, axis=-1, keepdims=True), states

    def _read(self, ids, lengths, states):
        """Feeds each row's characters; returns the probabilities after its last one and the states."""
        batch = tf.shape(ids)[0]
        probabilities = tf.zeros([batch, len(self.classes)], tf.float32)

        def body(t, probabilities, *states):
            new_probabilities, new_states = self._step(ids[:, t], list(states))
            active = (t < lengths)[:, tf.newaxis]  # rows whose text is longer than t
            states = [tf.where(active, new, old) for new, old in zip(new_states, states)]
            return (t + 1, tf.where(active, new_probabilities, probabilities), *states)

        _, probabilities, *states = tf.while_loop(
            lambda t, *_: t < tf.shape(ids)[1], body, (tf.constant(0), probabilities, *states)
        )
        return probabilities, states

    def _sample(self, probabilities, step, temperature, seed, top_k):
        """One character id per row: greedy when temperature ≤ 0, else Gumbel-max on logits / temperature."""
        logits = tf.math.log(probabilities[:, 1:])  # (batch, vocabulary - 1); [UNK] left out
        num_choices = tf.shape(logits)[1]
        k = tf.where((top_k > 0) & (top_k < num_choices), top_k, num_choices)
        kth_largest = tf.math.top_k(logits, k=k).values[:, -1:]
        logits = tf.where(logits >= kth_largest, logits, -np.inf)
        uniform = tf.random.stateless_uniform(
            tf.shape(logits), seed=tf.stack([seed, tf.cast(step, tf.int64)]), minval=1e-20, maxval=1.0
        )
        gumbel = -tf.math.log(-tf.math.log(uniform))
        scaled = logits / tf.maximum(temperature, 1e-6) + gumbel
        chosen = tf.where(temperature > 0, tf.argmax(scaled, axis=-1), tf.argmax(logits, axis=-1))
        return tf.cast(chosen, tf.int64) + 1

    # --- signatures --------------------------------------------------------------------------

    def generate(self, prompt, length, temperature, seed, top_k):
        """``prompt`` (batch,) → ``text`` (batch,): each prompt followed by ``length`` sampled characters."""
        batch = tf.shape(prompt)[0]
        length = tf.clip_by_value(length, 0, MAX_LENGTH)
        # The generator starts from a line break, as every line does in training.
        ids, lengths = self._encode(tf.strings.join([tf.fill([batch], LINE_BREAK), prompt]), self.context_characters)
        probabilities, states = self._read(ids, lengths, char_rnn.zero_states(self.model, batch))
        chosen = tf.TensorArray(tf.int64, size=length, element_shape=tf.TensorShape([None]))

        def body(step, probabilities, chosen, *states):
            token_ids = self._sample(probabilities, step, temperature, seed, top_k)
            probabilities, states = self._step(token_ids, list(states))
            return (step + 1, probabilities, chosen.write(step, token_ids), *states)

        _, _, chosen, *_ = tf.while_loop(
            lambda step, *_: step < length, body, (tf.constant(0), probabilities, chosen, *states)
        )
        # Stacking an empty TensorArray of unknown row size fails in graph mode: LENGTH=0 skips it.
        stacked = tf.cond(length > 0, chosen.stack, lambda: tf.zeros([0, batch], tf.int64))
        generated_ids = tf.transpose(tf.reshape(stacked, [length, batch]))  # (batch, length)
        generated = tf.strings.reduce_join(tf.gather(self.vocabulary, generated_ids), axis=1)
        return {"text": tf.strings.join([prompt, generated])}

    def step(self, characters, *states):
        ids, lengths = self._encode(characters, None)
        probabilities, states = self._read(ids, lengths, list(states))
        return {"probabilities": probabilities, **{f"state_{i}": s for i, s in enumerate(states)}}

    def build_archive(self) -> keras.export.ExportArchive:
        defaults = self.defaults
        length_default = tf.constant(defaults["length"], tf.int32)
        temperature_default = tf.constant(defaults["temperature"], tf.float32)
        seed_default = tf.constant(defaults["seed"], tf.int64)
        top_k_default = tf.constant(defaults["top_k"], tf.int32)

        # Tensor defaults become SignatureDef ``defaults`` (placeholder_with_default): optional inputs.
        def serve(prompt, length=length_default, temperature=temperature_default, seed=seed_default):
            return self.generate(prompt, length, temperature, seed, top_k_default)

        def generate(
            prompt, length=length_default, temperature=temperature_default, seed=seed_default, top_k=top_k_default
        ):
            return self.generate(prompt, length, temperature, seed, top_k)

        scalars = [
            tf.TensorSpec([None], tf.string, name="prompt"),
            tf.TensorSpec([], tf.int32, name="length"),
            tf.TensorSpec([], tf.float32, name="temperature"),
            tf.TensorSpec([], tf.int64, name="seed"),
        ]
        archive = keras.export.ExportArchive()
        archive.track(self.model)
        archive.track(self.lookup)
        archive.add_endpoint("serving_default", serve, scalars)
        archive.add_endpoint("generate", generate, scalars + [tf.TensorSpec([], tf.int32, name="top_k")])
        archive.add_endpoint(
            "step",
            self.step,
            [tf.TensorSpec([None], tf.string, name="characters")]
            + [tf.TensorSpec([None, units], tf.float32, name=f"state_{i}") for i, units in enumerate(self.state_sizes)],
        )
        classes_fn, classes_spec = signatures.classes_endpoint(self.classes)
        archive.add_endpoint("classes", classes_fn, classes_spec)
        return archive


def generation_inputs(prompts: list[str], length: int, temperature: float, seed: int) -> dict[str, np.ndarray]:
    """``serving_default``'s inputs as arrays (what a client sends)."""
    return {
        "prompt": np.asarray([p.encode("utf-8") for p in prompts], dtype=object),
        "length": np.asarray(length, np.int32),
        "temperature": np.asarray(temperature, np.float32),
        "seed": np.asarray(seed, np.int64),
    }


def export_textgen_model(
    model: keras.Model,
    characters: list[str],
    config: dict[str, Any],
    export_root: str | pathlib.Path,
    defaults: dict[str, Any],
    context_characters: int,
) -> tuple[pathlib.Path, dict[str, float]]:
    """Publishes ``export/textgen/<version>/`` after a fresh-process check of every signature.

    Returns:
        The version directory and the reload check's maximum differences per signature.
    """
    generator = Generator(model, characters, defaults, context_characters)
    archive = generator.build_archive()
    live_generate, live_step = tf.function(generator.generate), tf.function(generator.step)
    cases = []
    for length, temperature, seed in ((30, 0.8, 1), (30, 0.8, 2), (0, 1.0, 0), (5000, 1.0, 3), (20, 0.0, 0)):
        inputs = generation_inputs(CHECK_PROMPTS, length, temperature, seed)
        expected = live_generate(
            tf.constant(inputs["prompt"]),
            tf.constant(length),
            tf.constant(temperature),
            tf.constant(seed, tf.int64),
            tf.constant(0),
        )
        cases.append({"signature": "serving_default", "inputs": inputs, "expected": {"text": expected["text"].numpy()}})
    prompt = np.asarray([(LINE_BREAK + p).encode("utf-8") for p in CHECK_PROMPTS], dtype=object)
    zeros = [np.zeros([len(CHECK_PROMPTS), units], np.float32) for units in generator.state_sizes]
    first = {k: v.numpy() for k, v in live_step(tf.constant(prompt), *zeros).items()}
    following = np.asarray(["学".encode(), b"", b"x", "。".encode()], dtype=object)
    states = [tf.constant(first[f"state_{i}"]) for i in range(len(zeros))]
    second = {k: v.numpy() for k, v in live_step(tf.constant(following), *states).items()}
    state_names = [f"state_{i}" for i in range(len(zeros))]
    cases += [
        {
            "signature": "step",
            "inputs": {"characters": prompt, **dict(zip(state_names, zeros))},
            "expected": first,
            "atol": 1e-5,
        },
        {
            "signature": "step",
            "inputs": {"characters": following},
            "chain": state_names,
            "expected": second,
            "atol": 1e-5,
        },
        {
            "signature": "classes",
            "inputs": {"query": np.asarray([b""], dtype=object)},
            "expected": {"classes": np.asarray([[c.encode("utf-8") for c in generator.classes]], dtype=object)},
        },
    ]
    return publish.publish_checked(
        export_root,
        NAME,
        lambda path: archive.write_out(str(path), verbose=False),
        config,
        cases,
        warmup_requests=[("serving_default", generation_inputs(["我喜欢", ""], 20, 0.8, 0))],
        # JSON, not one per line: the vocabulary contains the line break itself.
        extra_files={"classes.json": json.dumps(generator.classes, ensure_ascii=False) + "\n"},
    )
