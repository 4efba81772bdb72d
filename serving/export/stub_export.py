"""Tiny untrained models with the export contract's signatures, for tests and benchmarks.

They stand in for ``export/video/<v>`` and ``export/image/<v>`` where no trained export exists (a
test's temporary export root, the benchmark on a fresh clone): the same signature names, input and
output names, dtypes and shapes as the real exports, the same ``assets.extra/config.json`` key
(``image_size``), in milliseconds of compute.

- video: ``serving_default`` (``frames`` uint8 [batch, time, h, w, 3] → ``probabilities``
  [batch, time, classes], ``labels``), ``encoded`` (``frame_bytes``), ``stream`` (``frames`` plus
  ``state_0``, ``state_1``: an LSTM's h and c, [batch, units] float32 → the outputs plus the new
  states), ``stream_encoded`` (``frame_bytes`` plus the states) and ``classes``. Frame t sees
  frames 0..t only, so ``stream`` chunk by chunk equals one ``serving_default`` call. Encoded frames
  are decoded at their own size and resized by the model, as in the real exports.
- image: ``serving_default`` (``images``), ``encoded`` (``image_bytes``) and ``classes``.
"""

from __future__ import annotations

import json
import pathlib

import keras
import tensorflow as tf
from keras import layers

from serving.export import publish, signatures

DEFAULT_CLASS_NAMES = ("circle", "square", "triangle")


def _frame_encoder(image_size: int) -> keras.Model:
    # (n, h, w, 3) uint8, any size → (n, features); resizes as the real models do.
    images = keras.Input(shape=(None, None, 3), dtype="uint8", name="images")
    x = layers.Resizing(image_size, image_size, antialias=True, name="resize")(images)
    x = layers.Rescaling(1.0 / 255, name="rescale")(x)
    x = layers.Conv2D(8, 3, strides=2, activation="relu", name="conv")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(images, x, name="stub_encoder")


def build_video_archive(class_names=DEFAULT_CLASS_NAMES, image_size: int = 16, units: int = 8, seed: int = 0):
    """An ExportArchive of a tiny CNN + LSTM with the video contract's four signatures."""
    keras.utils.set_random_seed(seed)
    encoder = _frame_encoder(image_size)
    lstm = layers.LSTM(units, return_sequences=True, return_state=True, name="lstm")
    head = layers.Dense(len(class_names), activation="softmax", name="probabilities")
    names = tf.constant(list(class_names))
    # Build every layer once so the archive tracks their variables.
    features = encoder(tf.zeros([1, image_size, image_size, 3], tf.uint8))
    head(lstm(features[:, tf.newaxis])[0])

    def stream(frames, state_0, state_1):
        # (batch, time, h, w, 3) uint8 and the LSTM's (batch, units) h and c.
        shape = tf.shape(frames)
        flat = tf.reshape(frames, tf.concat([[-1], shape[2:]], axis=0))
        x = tf.reshape(encoder(flat), [shape[0], shape[1], -1])  # (batch, time, features)
        sequence, hidden, cell = lstm(x, initial_state=[state_0, state_1])
        probabilities = head(sequence)  # (batch, time, classes)
        return {
            "probabilities": probabilities,
            "labels": signatures.labels_from(probabilities, names),
            "state_0": hidden,
            "state_1": cell,
        }

    def serve(frames):
        zeros = tf.zeros([tf.shape(frames)[0], units], tf.float32)
        outputs = stream(frames, zeros, zeros)
        return {"probabilities": outputs["probabilities"], "labels": outputs["labels"]}

    def encoded(frame_bytes):
        return serve(signatures.decode_frames(frame_bytes))

    def stream_encoded(frame_bytes, state_0, state_1):
        return stream(signatures.decode_frames(frame_bytes), state_0, state_1)

    frames_spec = tf.TensorSpec([None, None, None, None, 3], tf.uint8, name="frames")
    state_specs = [tf.TensorSpec([None, units], tf.float32, name=f"state_{index}") for index in range(2)]
    archive = keras.export.ExportArchive()
    archive.track(encoder)
    archive.track(lstm)
    archive.track(head)
    archive.add_endpoint("serving_default", serve, [frames_spec])
    archive.add_endpoint("encoded", encoded, [tf.TensorSpec([None, None], tf.string, name="frame_bytes")])
    archive.add_endpoint("stream", stream, [frames_spec, *state_specs])
    bytes_spec = tf.TensorSpec([None, None], tf.string, name="frame_bytes")
    archive.add_endpoint("stream_encoded", stream_encoded, [bytes_spec, *state_specs])
    classes_fn, classes_spec = signatures.classes_endpoint(list(class_names))
    archive.add_endpoint("classes", classes_fn, classes_spec)
    return archive


def build_image_archive(class_names=DEFAULT_CLASS_NAMES, image_size: int = 16, seed: int = 0):
    """An ExportArchive of a tiny CNN with the image contract's three signatures."""
    keras.utils.set_random_seed(seed)
    encoder = _frame_encoder(image_size)
    head = layers.Dense(len(class_names), activation="softmax", name="probabilities")
    names = tf.constant(list(class_names))
    head(encoder(tf.zeros([1, image_size, image_size, 3], tf.uint8)))

    def serve(images):
        probabilities = head(encoder(images))
        return {"probabilities": probabilities, "labels": signatures.labels_from(probabilities, names)}

    def encoded(image_bytes):
        probabilities = signatures.predict_encoded_images(image_bytes, lambda images: head(encoder(images)))
        return {"probabilities": probabilities, "labels": signatures.labels_from(probabilities, names)}

    archive = keras.export.ExportArchive()
    archive.track(encoder)
    archive.track(head)
    archive.add_endpoint("serving_default", serve, [tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")])
    archive.add_endpoint("encoded", encoded, [tf.TensorSpec([None], tf.string, name="image_bytes")])
    classes_fn, classes_spec = signatures.classes_endpoint(list(class_names))
    archive.add_endpoint("classes", classes_fn, classes_spec)
    return archive


def export_stub(
    export_root: str | pathlib.Path, name: str, class_names=DEFAULT_CLASS_NAMES, image_size: int = 16
) -> pathlib.Path:
    """Publishes a stub ``video`` or ``image`` model under ``export_root/<name>/<version>``."""
    if name == "video":
        archive = build_video_archive(class_names, image_size)
    elif name == "image":
        archive = build_image_archive(class_names, image_size)
    else:
        raise ValueError(f"stub models are 'video' or 'image', got {name!r}")
    config = {"image_size": image_size, "stub": True}
    return publish.publish(
        export_root,
        name,
        lambda path: archive.write_out(str(path), verbose=False),
        extra_files={"config.json": json.dumps(config, indent=2), "classes.txt": "\n".join(class_names) + "\n"},
    )
