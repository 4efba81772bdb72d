"""The multi-worker loop in one local worker: a second phase (fine-tuning) continues the first's model."""

import subprocess
import sys

from tests.helpers import PROJECT_ROOT

# In its own process: a MultiWorkerMirroredStrategy enables collective ops for the whole process.
SCRIPT = """
import pathlib, tempfile, types
import keras, numpy as np, tensorflow as tf
from pipelines.training import distributed_fit

strategy = tf.distribute.MultiWorkerMirroredStrategy()  # no TF_CONFIG: one local worker

def build():
    inputs = keras.Input((4,), name="x")
    hidden = keras.layers.Dense(8, activation="relu", name="hidden")(inputs)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="out")(hidden))

x = np.random.RandomState(0).randn(256, 4).astype("float32")
y = (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0)
data = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
config = types.SimpleNamespace(batch_size=32, learning_rate=1e-2, patience=3, epochs=3)

def compile_model(model):
    model.compile(loss="sparse_categorical_crossentropy")

with tempfile.TemporaryDirectory() as folder:
    folder = pathlib.Path(folder)
    model, first, _ = distributed_fit.fit(build, data, data, config, folder, strategy, folder / "a", compile_model)
    model.get_layer("hidden").trainable = False
    frozen = model.get_layer("hidden").get_weights()[0].copy()
    phase_two = (lambda: model, data, data, config, folder, strategy, folder / "b", compile_model)
    again, second, _ = distributed_fit.fit(*phase_two)
    assert again is model, "the second phase returns the model it was given"
    assert np.array_equal(frozen, model.get_layer("hidden").get_weights()[0]), "a frozen layer changed"
    assert second["val_loss"][-1] < first["val_loss"][-1] < first["val_loss"][0], (first, second)
    assert sorted(first) == ["accuracy", "learning_rate", "loss", "val_accuracy", "val_loss"]
    print("ok")
"""


def test_second_phase_trains_the_given_model_and_keeps_frozen_layers():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]
