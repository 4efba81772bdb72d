"""How the video pipeline scores a model: per clip, per video and per frame over whole videos.

- Clips: the prediction of a clip is the class with the highest mean probability over its frames
  after the first quarter (before that, no model can know the motion yet); per-frame accuracy
  counts the same frames.
- Videos (folder sources): a video's prediction averages those probabilities over all of its
  evaluation clips, spread along its length.
- Whole videos: every frame of each video, through the stream model (the export's ``stream``
  signature: the recurrent state carried chunk to chunk), so frame t sees frames 0..t; the
  first ``num_frames // 4`` frames of each video are left out, as for clips.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from models import video_cnn_rnn
from pipelines.evaluation import metrics

STREAM_CHUNK = 256


def clip_metrics(probabilities: np.ndarray, labels: np.ndarray, class_names: list[str]) -> dict:
    """Per-frame accuracy after the first quarter of each clip, and clip accuracy.

    Args:
        probabilities: (clips, time, classes); labels: (clips, time).
    """
    start = probabilities.shape[1] // 4
    late = metrics.classification_metrics(probabilities[:, start:], labels[:, start:], class_names)
    clip_predictions = probabilities[:, start:].mean(axis=1).argmax(-1)
    return {
        "clip_accuracy": float((clip_predictions == labels[:, -1]).mean()),
        "frame_accuracy_after_first_quarter": late["accuracy"],
        "frame_accuracy_all": float((probabilities.argmax(-1) == labels).mean()),
        "frame_accuracy_by_position": [round(float(a), 4) for a in (probabilities.argmax(-1) == labels).mean(axis=0)],
        "num_clips": int(len(labels)),
        "accuracy": late["accuracy"],  # for the confusion-matrix plot title
        "per_class_accuracy": late["per_class_accuracy"],
        "confusion_matrix": late["confusion_matrix"],
        "clip_confusion_matrix": metrics.classification_metrics(
            np.eye(len(class_names))[clip_predictions], labels[:, -1], class_names
        )["confusion_matrix"],
    }


def video_accuracy(probabilities: np.ndarray, labels: np.ndarray, clip_videos: np.ndarray) -> float:
    """Accuracy per video: the mean over its clips of their frames after the first quarter."""
    start = probabilities.shape[1] // 4
    clip_means = probabilities[:, start:].mean(axis=1)  # (clips, classes)
    videos = np.unique(clip_videos)
    predictions = np.array([clip_means[clip_videos == v].mean(axis=0).argmax() for v in videos])
    truth = np.array([labels[clip_videos == v][0, -1] for v in videos])
    return float((predictions == truth).mean())


def stream_predictor(model, config):
    """``predict(frames (n, h, w, 3)) → (n, classes)``, the whole video chunk by chunk, state carried.

    ``config``: the model settings (``pipelines.configs.video.VideoModelConfig``)."""

    stream = video_cnn_rnn.build_stream_model(model, config)
    sizes = video_cnn_rnn.state_sizes(config)

    @tf.function(reduce_retracing=True)
    def step(inputs):
        return stream(inputs, training=False)

    def predict(frames: np.ndarray) -> np.ndarray:
        states = {name: tf.zeros([1, size]) for name, size in sizes.items()}
        outputs = []
        for start in range(0, len(frames), STREAM_CHUNK):
            result = step({"frames": tf.constant(frames[np.newaxis, start : start + STREAM_CHUNK]), **states})
            states = {name: result[name] for name in sizes}
            outputs.append(result["probabilities"].numpy()[0])
        return np.concatenate(outputs)

    return predict


def chunk_predictor(model):
    """``predict(frames) → (n, classes)`` for a model without memory (the frame-only baseline)."""

    def predict(frames: np.ndarray) -> np.ndarray:
        chunks = [
            model(frames[np.newaxis, start : start + STREAM_CHUNK], training=False).numpy()[0]
            for start in range(0, len(frames), STREAM_CHUNK)
        ]
        return np.concatenate(chunks)

    return predict


def whole_video_metrics(predict, videos: list, num_frames: int, class_names: list[str]) -> dict:
    """Per-frame accuracy over every frame of every video (after its first ``num_frames // 4``) and per video.

    Args:
        predict: ``frames (n, h, w, 3) uint8 → probabilities (n, classes)``.
        videos: ``(read whole video, label, name)`` per video.
    """
    skip = num_frames // 4
    correct = total = 0
    rows, predictions, truth = [], [], []
    for read, label, name in videos:
        probabilities = predict(read())
        late = probabilities[skip:] if len(probabilities) > skip else probabilities
        frame_correct = int((late.argmax(-1) == label).sum())
        correct, total = correct + frame_correct, total + len(late)
        predictions.append(int(late.mean(axis=0).argmax()))
        truth.append(label)
        rows.append(
            {
                "video": name,
                "label": class_names[label],
                "predicted": class_names[predictions[-1]],
                "frame_accuracy": round(frame_correct / max(len(late), 1), 4),
            }
        )
    matrix = metrics.classification_metrics(np.eye(len(class_names))[predictions], np.asarray(truth), class_names)
    return {
        "frame_accuracy": correct / max(total, 1),
        "video_accuracy": float(np.mean(np.asarray(predictions) == np.asarray(truth))),
        "num_videos": len(videos),
        "num_frames": total,
        "video_confusion_matrix": matrix["confusion_matrix"],
        "videos": rows,
    }
