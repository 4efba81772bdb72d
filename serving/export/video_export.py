"""Export of the video model: ``serving_default``, ``encoded``, ``stream`` and ``classes``.

- ``serving_default``: ``frames`` uint8 (batch, time, h, w, 3), any h and w →
  ``probabilities`` (batch, time, classes) (frame t sees frames 0..t only), ``labels`` (batch, time).
- ``encoded``: ``frame_bytes`` string (batch, time), JPEG or PNG per frame → as above.
- ``stream``: ``frames`` plus the recurrent state ``state_0``, ``state_1`` ... float32
  (batch, size) (LSTM: h and c; GRU: h; then the last frame's CNN features, for the frame
  difference) → as above plus the new state under the same names.
  Every ``stream`` input other than ``frames`` is a state; start a video with zeros and feed each
  chunk the state the previous chunk returned: the outputs equal one call on the whole video.
- ``stream_encoded``: ``frame_bytes`` (batch, time) JPEG/PNG plus the states → as ``stream``; what a
  client streaming a long video through REST sends (JSON of raw uint8 pixels is ~17x larger and
  parsing it dominates the request).
- ``classes``: the class list for REST-only clients (``serving.signatures.classes_endpoint``).

The recurrent layer is rebuilt with ``use_cudnn=False`` before tracing, so no cuDNN op is baked
into the graph even when a GPU is visible (CPU-only TF Serving could not run it).
"""

from __future__ import annotations

import pathlib
from typing import Any

import cv2
import keras
import numpy as np
import tensorflow as tf

from models import video_cnn_rnn
from serving.export import publish, signatures

STREAM_CHUNK = 8
CHECK_FRAMES = 64


def build_archive(model: keras.Model, config, class_names: list[str]):
    """Returns the ExportArchive and its endpoint functions (callable eagerly, for checks).

    ``config``: the model settings (``pipelines.configs.video.VideoModelConfig``)."""
    serving_model = video_cnn_rnn.build_video_cnn_rnn(config, len(class_names), use_cudnn=False)
    serving_model.set_weights(model.get_weights())
    stream_model = video_cnn_rnn.build_stream_model(serving_model, config)
    names = tf.constant(class_names)
    states = video_cnn_rnn.state_sizes(config)

    def serve(frames):
        # (batch, time, height, width, 3) uint8, any size: the model resizes and standardises.
        probabilities = serving_model(frames, training=False)
        return {"probabilities": probabilities, "labels": signatures.labels_from(probabilities, names)}

    def decode(frame_bytes):
        # (batch, time) JPEG or PNG bytes → (batch, time, h, w, 3) uint8 at their own size: the model
        # resizes, as for raw frames, so a PNG gets the answer of its pixels.
        return signatures.decode_frames(frame_bytes)

    def encoded(frame_bytes):
        return serve(decode(frame_bytes))

    def stream(frames, *state_values):
        outputs = stream_model({"frames": frames, **dict(zip(states, state_values))}, training=False)
        probabilities = outputs["probabilities"]
        result = {"probabilities": probabilities, "labels": signatures.labels_from(probabilities, names)}
        result.update({name: outputs[name] for name in states})
        return result

    def stream_encoded(frame_bytes, *state_values):
        return stream(decode(frame_bytes), *state_values)

    frames_spec = tf.TensorSpec([None, None, None, None, 3], tf.uint8, name="frames")
    archive = keras.export.ExportArchive()
    archive.track(serving_model)
    archive.add_endpoint("serving_default", serve, [frames_spec])
    archive.add_endpoint("encoded", encoded, [tf.TensorSpec([None, None], tf.string, name="frame_bytes")])
    archive.add_endpoint(
        "stream",
        stream,
        [frames_spec] + [tf.TensorSpec([None, size], tf.float32, name=name) for name, size in states.items()],
    )
    archive.add_endpoint(
        "stream_encoded",
        stream_encoded,
        [tf.TensorSpec([None, None], tf.string, name="frame_bytes")]
        + [tf.TensorSpec([None, size], tf.float32, name=name) for name, size in states.items()],
    )
    classes_fn, classes_spec = signatures.classes_endpoint(class_names)
    archive.add_endpoint("classes", classes_fn, classes_spec)
    return archive, {"serving_default": serve, "encoded": encoded, "stream": stream, "stream_encoded": stream_encoded}


def _long_check_video(sample_clips: np.ndarray) -> np.ndarray:
    """(1, CHECK_FRAMES, 1.5 h, 1.5 w, 3): the sample clips one after another, repeated to CHECK_FRAMES
    frames, so the stream check crosses clip boundaries (the content changes), at a size the model
    must resize."""
    frames = np.concatenate(list(sample_clips))  # (clips * time, h, w, 3)
    frames = frames[np.arange(CHECK_FRAMES) % len(frames)]
    height, width = frames.shape[1:3]
    size = (width * 3 // 2, height * 3 // 2)
    return np.stack([cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR) for frame in frames])[np.newaxis]


def _encode_frames(clips: np.ndarray, extension: str, quality: int = 95) -> np.ndarray:
    """(batch, time, h, w, 3) RGB → (batch, time) object array of encoded bytes."""
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if extension == ".jpg" else []
    encoded = [[cv2.imencode(extension, frame[..., ::-1], params)[1].tobytes() for frame in clip] for clip in clips]
    return np.array(encoded, dtype=object)


def export_video_model(
    model: keras.Model,
    config,
    class_names: list[str],
    config_dict: dict[str, Any],
    export_root: str | pathlib.Path,
    sample_clips: np.ndarray,
) -> tuple[pathlib.Path, dict[str, float]]:
    """Publishes ``export/video/<version>/`` and checks it in a fresh process.

    The check: ``serving_default`` and ``encoded`` (PNG: exact; JPEG: within JPEG error) against
    the live model on ``sample_clips``, and ``stream`` fed a 64-frame video (the sample clips one
    after another, at 1.5 times their size) in chunks of 8, state carried by the fresh process
    itself, against ``serving_default`` on the whole video (within 1e-5).

    Args:
        model: the trained video model.
        config: its model settings (``pipelines.configs.video.VideoModelConfig``).
        class_names: class names in output order.
        config_dict: the resolved config, saved as ``assets.extra/config.json``.
        export_root: TF Serving base directory.
        sample_clips: a few (n, time, h, w, 3) uint8 clips.

    Returns:
        The version directory and the check's maximum differences per signature.
    """
    archive, endpoints = build_archive(model, config, class_names)
    sample_clips = np.asarray(sample_clips, np.uint8)
    png = _encode_frames(sample_clips, ".png")
    jpeg = _encode_frames(sample_clips, ".jpg")
    long_clip = _long_check_video(sample_clips)  # (1, 64, h', w', 3)
    states = video_cnn_rnn.state_sizes(config)
    zeros = {name: np.zeros((1, size), np.float32) for name, size in states.items()}

    def live(signature, *args):
        return {k: v.numpy() for k, v in endpoints[signature](*map(tf.constant, args)).items()}

    expected_clips = live("serving_default", sample_clips)
    whole = live("serving_default", long_clip)
    cases = [
        {"signature": "serving_default", "inputs": {"frames": sample_clips}, "expected": expected_clips},
        # PNG is lossless and the samples are at model size: identical pixels, identical outputs.
        {"signature": "encoded", "inputs": {"frame_bytes": png}, "expected": expected_clips},
    ]
    for start in range(0, long_clip.shape[1], STREAM_CHUNK):
        cases.append(
            {
                "signature": "stream",
                "inputs": {"frames": long_clip[:, start : start + STREAM_CHUNK], **(zeros if start == 0 else {})},
                "expected": {"probabilities": whole["probabilities"][:, start : start + STREAM_CHUNK]},
                "chain": [] if start == 0 else list(states),
                "atol": 1e-5,
            }
        )
    # stream_encoded: the first chunk as PNG frames (decoded and resized in the graph).
    png_long = _encode_frames(long_clip[:, :STREAM_CHUNK], ".png")
    expected_encoded = live("stream_encoded", png_long, *zeros.values())
    cases.append(
        {
            "signature": "stream_encoded",
            "inputs": {"frame_bytes": png_long, **zeros},
            "expected": {"probabilities": expected_encoded["probabilities"]},
            "atol": 1e-5,
        }
    )
    version_dir, differences = publish.publish_checked(
        export_root,
        "video",
        lambda path: archive.write_out(str(path), verbose=False),
        config_dict,
        cases,
        warmup_requests=[
            ("serving_default", {"frames": sample_clips[:1]}),
            ("encoded", {"frame_bytes": jpeg[:1]}),
            ("stream", {"frames": long_clip[:, :STREAM_CHUNK], **zeros}),
        ],
        class_names=class_names,
    )
    # JPEG changes pixels slightly, so the outputs move a little; measured here, not asserted tightly.
    jpeg_outputs = live("encoded", jpeg)
    differences["encoded_jpeg"] = float(np.abs(jpeg_outputs["probabilities"] - expected_clips["probabilities"]).max())
    differences["encoded_jpeg_label_agreement"] = float((jpeg_outputs["labels"] == expected_clips["labels"]).mean())
    return version_dir, differences
