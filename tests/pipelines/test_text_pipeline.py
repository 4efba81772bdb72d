"""``python -m pipelines.text`` end to end (train, export, fresh reload) and bad input (exit 2, one line)."""

from __future__ import annotations

import json

import pytest
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import saved_model_pb2

from common import cli
from pipelines import text
from tests.helpers import run_module
from tests.pipelines.generated import sentences


def test_tiny_run_trains_exports_and_reloads(tmp_path, sentence_csv):
    result = run_module(
        "pipelines.text",
        "--preset", "tiny",
        "--dataset", str(sentence_csv),
        "--epochs", "4",
        "--runs-dir", str(tmp_path / "runs"),
        "--export-dir", str(tmp_path / "export"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("{")))
    assert summary["test_accuracy"] > 0.5  # four classes: chance is 0.25
    metrics = json.loads((tmp_path / "runs" / "text").glob("*/metrics.json").__next__().read_text())
    assert metrics["tokenize"] == "character"
    assert set(metrics["export"]["reload_max_difference"]) == {"serving_default", "classes"}
    assert summary["export"] == str(tmp_path / "export" / "text" / "1")
    assert (tmp_path / "export" / "models.config").exists()

    # The pipeline reloaded the export in a fresh process (Chinese, English, "", 100k characters)
    # and compared; here: the serving input really is a string tensor.
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((tmp_path / "export" / "text" / "1" / "saved_model.pb").read_bytes())
    signature = proto.meta_graphs[0].signature_def["serving_default"]
    assert signature.inputs["text"].dtype == types_pb2.DT_STRING
    assert set(signature.outputs) == {"probabilities", "labels"}


def write(path, content):
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "name, content, extra",
    [
        ("one_class.csv", "text,label\n" + "".join(f"句子{i},好\n" for i in range(20)), ()),
        ("columns.csv", "review,label\n" + "".join(f"句子{i},{i % 2}\n" for i in range(20)), ()),
        ("latin1.csv", b"text,label\n" + "café,1\n".encode("latin-1") * 20, ()),
        ("missing.csv", None, ()),
        ("ok.csv", "text,label\n" + "".join(f"句子{i},{i % 2}\n" for i in range(20)), ("--cell", "transformer")),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, name, content, extra):
    path = tmp_path / name
    if content is not None:
        write(path, content)
    args = ["--dataset", str(path), "--runs-dir", str(tmp_path / "runs"), "--no-export", *extra]
    assert cli.run(text.main, args) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "\n" not in error


def test_bad_input_from_the_command_line_has_no_traceback(tmp_path):
    texts, _ = sentences(20)
    path = write(tmp_path / "one.csv", "text,label\n" + "".join(f"{t},dog\n" for t in texts))
    result = run_module("pipelines.text", "--dataset", str(path), "--runs-dir", str(tmp_path / "runs"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "only one class" in errors[0]


def test_table_and_tfds_mistakes_fail_before_tensorflow_loads(tmp_path):
    """The config's validate() reads a CSV and looks TFDS names up without TensorFlow's start-up."""
    from tests.helpers import refusals_without_tensorflow

    texts, _ = sentences(20)
    one_class = write(tmp_path / "one.csv", "text,label\n" + "".join(f"{t},dog\n" for t in texts))
    columns = write(tmp_path / "columns.csv", "review,label\n" + "".join(f"{t},{i % 2}\n" for i, t in enumerate(texts)))
    codes, tensorflow_loaded, errors = refusals_without_tensorflow(
        ["text"],
        [str(one_class), str(columns), "tfds:surely_not_a_dataset"],
        env={"TFDS_DATA_DIR": str(tmp_path), "HOME": str(tmp_path)},
    )
    assert codes == [2, 2, 2] and not tensorflow_loaded
    assert len(errors) == 3, errors
    assert "only one class" in errors[0] and "no column 'text'" in errors[1] and "unknown TFDS dataset" in errors[2]
