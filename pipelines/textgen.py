"""Character-level text generation: corpus → StringLookup → GRU/LSTM → next-character softmax → export for TF Serving.

make train-textgen                                     # embedded Chinese sentences (我喜欢学习编程。), GRU
make train-textgen CELL=lstm                           # the same with an LSTM
make train-textgen PRESET=tiny                         # seconds; smoke test
make train-textgen DATASET=novel.txt                   # a .txt file, or a folder of .txt files
make train-textgen DATASET=../shared/data/text/waimai_10k.csv TEXT_COLUMN=review
make generate PROMPT=我喜欢 LENGTH=50 TEMPERATURE=0.5 SEED=1 [TOP_K=5]
python -m pipelines.textgen --help; python -m pipelines.textgen generate --help

The default run (GRU 256, 12 epochs, 2 shared CPU cores): about 5 minutes; validation perplexity about
2.2 against 73 for a unigram model; every complete line sampled at temperatures 0.2 to 1.2 is a sentence
of the corpus grammar (samples.txt and metrics.json in the run folder).
"""

from __future__ import annotations

import logging
import math
import pathlib
import sys
from collections.abc import Sequence

import numpy as np

from common import cli
from common import config as config_lib
from common.errors import UserError
from pipelines.configs.textgen import PRESETS, TextGenConfig
from pipelines.training import command
from pipelines.training.workspace import Workspace

NAME = "textgen"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["generate"]:
        return generate_main(argv[1:])
    description = __doc__.splitlines()[0] + " (see also: generate --help)"
    return command.train_main(
        "python -m pipelines.textgen", description, TextGenConfig, PRESETS, train_and_export, argv
    )


# --- training --------------------------------------------------------------------------------


def encode(text: str, characters: list[str]):
    """A character stream → int64 ids (numpy), through the same lookup layer the export uses."""
    # Deferred: TensorFlow loads only once main has checked the config.
    import tensorflow as tf

    from models import char_rnn

    return char_rnn.make_lookup(characters)(tf.strings.unicode_split(text, "UTF-8")).numpy()


def unigram_perplexity(train_ids, target_ids, vocabulary_size: int) -> float:
    """Perplexity of ``target_ids`` under add-one-smoothed character frequencies of ``train_ids``."""

    counts = np.bincount(train_ids, minlength=vocabulary_size).astype(np.float64) + 1.0
    log_probabilities = np.log(counts / counts.sum())
    return float(np.exp(-log_probabilities[target_ids].mean()))


def write_samples(run_dir, generator, config: TextGenConfig, prompts: list[str], check_grammar: bool) -> dict:
    """Generates from each prompt at each sample temperature; writes samples.txt; returns them and their stats."""
    # Deferred: TensorFlow loads only once main has checked the config.
    import tensorflow as tf

    from pipelines.datasets.embedded import chinese_sentences

    generation = config.generation
    generate = tf.function(generator.generate)
    samples, lines_out = {}, []
    for temperature in generation.sample_temperatures:
        texts = generate(
            tf.constant(prompts),
            tf.constant(generation.sample_length),
            tf.constant(temperature, tf.float32),
            tf.constant(config.seed, tf.int64),
            tf.constant(generation.top_k),
        )["text"]
        texts = [t.decode("utf-8") for t in texts.numpy()]
        entry = {"texts": texts}
        if check_grammar:
            # Complete generated lines (the last one may be cut off by the length limit).
            lines = [line for text in texts for line in text.split("\n")[:-1] if line]
            entry["grammatical_lines"] = f"{sum(map(chinese_sentences.is_grammatical, lines))}/{len(lines)}"
        samples[str(temperature)] = entry
        lines_out.append(
            f"=== temperature {temperature}"
            + (f" (grammatical lines {entry['grammatical_lines']})" if check_grammar else "")
        )
        for prompt, text in zip(prompts, texts):
            lines_out.append(f"--- prompt {prompt!r}")
            lines_out.append(text)
        lines_out.append("")
    (run_dir / "samples.txt").write_text("\n".join(lines_out), encoding="utf-8")
    return samples


def train_and_export(config: TextGenConfig, workspace: Workspace):
    """Trains, evaluates, samples and (into ``workspace.export_dir`` when set) exports; returns a TrainResult."""
    # Deferred: TensorFlow loads only once main has checked the config.

    from models import char_rnn
    from pipelines.datasets import corpus_sources, pipeline
    from pipelines.training import run_folder, trainer
    from serving.export import textgen_export

    strategy = workspace.start(config.seed)
    data, model_config, generation = config.data, config.model, config.generation
    corpus = corpus_sources.load(data, config.seed)
    run = run_folder.create(workspace, NAME, config)

    train_text = corpus.text("train")
    characters = char_rnn.learn_vocabulary(train_text, model_config.max_characters - 1, model_config.min_count)
    if corpus_sources.LINE_BREAK not in characters:
        characters.append(corpus_sources.LINE_BREAK)  # generation starts after a line break
    vocabulary_size = len(characters) + 1
    logging.info(
        "corpus %s: %d training characters, vocabulary %d", corpus.description, len(train_text), vocabulary_size
    )
    ids = {split: encode(corpus.text(split), characters) for split in corpus_sources.SPLIT_NAMES}
    batch = dict(batch_size=config.training.batch_size, seed=config.seed)
    windows = {split: corpus_sources.windows(ids[split], data.sequence_length) for split in corpus_sources.SPLIT_NAMES}
    train = pipeline.batched(windows["train"], training=True, **batch)
    validation = pipeline.batched(windows["validation"], training=False, **batch)
    test = pipeline.batched(windows["test"], training=False, **batch)

    model, history, fit_seconds = trainer.fit(
        lambda: char_rnn.build_char_rnn(model_config, vocabulary_size),
        train,
        validation,
        config.training,
        run.directory,
        strategy,
        run.backup_dir(config),
    )
    epochs_run = len(history.get("loss", []))
    evaluation = {}
    for split, dataset in (("validation", validation), ("test", test)):
        loss, accuracy = model.evaluate(dataset, verbose=0)
        num_targets = (len(ids[split]) - 1) // data.sequence_length * data.sequence_length
        targets = ids[split][1 : num_targets + 1]
        evaluation[split] = {
            "perplexity": round(math.exp(loss), 3),
            "unigram_perplexity": round(unigram_perplexity(ids["train"], targets, vocabulary_size), 3),
            "next_character_accuracy": round(float(accuracy), 4),
            "characters": int(num_targets),
        }
    metrics = {
        **evaluation,
        "fit_seconds": round(fit_seconds, 1),
        "epochs_run": epochs_run,
        "seconds_per_epoch": round(fit_seconds / max(1, epochs_run), 2),
        "parameters": int(model.count_params()),
        "vocabulary_size": vocabulary_size,
        "dataset": corpus.description,
        "lines": corpus.sizes,
        "train_characters": len(train_text),
        "skipped": corpus.skipped,
    }
    defaults = {
        "length": generation.length,
        "temperature": generation.temperature,
        "seed": config.seed,
        "top_k": generation.top_k,
    }
    generator = textgen_export.Generator(model, characters, defaults, generation.context_characters)
    prompts = ["", "我喜欢"] + [line[:2] for line in corpus.lines["validation"][:2]]
    metrics["samples"] = write_samples(run.directory, generator, config, prompts, check_grammar=not data.dataset)
    if workspace.export_dir:
        version_dir, differences = textgen_export.export_textgen_model(
            model, characters, config_lib.to_dict(config), workspace.export_dir, defaults, generation.context_characters
        )
        metrics["export"] = {"path": str(version_dir), "reload_max_difference": differences}
    run_folder.write_run_outputs(run.directory, config, metrics, history, [], f"textgen {model_config.cell}")
    return _result(run.directory, metrics, generation)


def _result(run_dir: pathlib.Path, metrics: dict, generation):
    """The validation perplexity against the unigram model's, and a sample at the lowest temperature."""
    from pipelines.training import run_folder  # deferred with the training imports (Matplotlib)

    export_path = metrics.get("export", {}).get("path")
    validation = metrics["validation"]
    summary = {
        "validation_perplexity": validation["perplexity"],
        "unigram_perplexity": validation["unigram_perplexity"],
        "fit_seconds": metrics["fit_seconds"],
        "run_dir": str(run_dir),
        "export": export_path,
    }
    sentence = (
        f"validation perplexity {validation['perplexity']:.3f} "
        f"(unigram model: {validation['unigram_perplexity']:.3f}); run folder {run_dir}"
        + (f"; exported to {export_path}" if export_path else "")
    )
    if generation.sample_temperatures:
        lowest = min(generation.sample_temperatures)
        sample = metrics["samples"][str(lowest)]["texts"][1][:80]
        sentence = f"sample at temperature {lowest}: {sample!r}\n" + sentence
    return run_folder.TrainResult(run_dir, metrics, summary, sentence)


# --- make generate -----------------------------------------------------------------------------


def generate_main(argv: Sequence[str]) -> int:
    """``generate``: sample from the latest ``export/textgen/<version>/`` through its signatures."""
    parser = cli.ArgumentParser(
        prog="python -m pipelines.textgen generate",
        description="Generate text from a prompt with the latest textgen export (its serving_default signature).",
    )
    parser.add_argument("--prompt", default="", help="text to continue (default: empty, the start of a line)")
    parser.add_argument("--length", type=int, default=None, help="characters to generate (default: the export's)")
    parser.add_argument("--temperature", type=float, default=None, help="0 = greedy; default: the export's")
    parser.add_argument("--seed", type=int, default=None, help="same seed, same text (default: the export's)")
    parser.add_argument("--top-k", type=int, default=None, help="sample among the k most likely (0 = all)")
    parser.add_argument("--export-dir", default="export", help="TF Serving model base directory")
    args = parser.parse_args(argv)
    from serving.export import layout  # reads the export layout without TensorFlow

    version_dir = layout.latest_version_dir(args.export_dir, NAME)
    if version_dir is None:
        raise UserError(f"no textgen export under '{args.export_dir}/{NAME}/': run make train-textgen first")
    if args.length is not None and args.length < 0:
        raise UserError(f"LENGTH must be >= 0, got {args.length}")
    import tensorflow as tf  # deferred: a bad argument fails before TensorFlow loads

    loaded = tf.saved_model.load(str(version_dir))
    inputs = {"prompt": tf.constant([args.prompt])}
    if args.length is not None:
        inputs["length"] = tf.constant(args.length, tf.int32)
    if args.temperature is not None:
        inputs["temperature"] = tf.constant(args.temperature, tf.float32)
    if args.seed is not None:
        inputs["seed"] = tf.constant(args.seed, tf.int64)
    # The restored endpoints keep the signature defaults, so unspecified options take the export's.
    if args.top_k is not None:
        text = loaded.generate(**inputs, top_k=tf.constant(args.top_k, tf.int32))["text"]
    else:
        text = loaded.serving_default(**inputs)["text"]
    print(text.numpy()[0].decode("utf-8"))
    logging.info("generated with %s", version_dir)
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
