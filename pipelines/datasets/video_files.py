"""Decoding video files for training with OpenCV: whole videos, single clips, and a first-frame probe.

Frames are resized with the exported model's own resize (anti-aliased bilinear), so training sees
the pixels serving will. FFmpeg's messages about broken files are silenced (``common.quiet``); the
sources report what they skip in one line.
"""

from __future__ import annotations

import pathlib

import cv2
import numpy as np

from common import quiet  # noqa: F401 - OpenCV's FFmpeg log level, set before the first capture opens
from models import resizing


def resize_frames(frames: np.ndarray, size: int) -> np.ndarray:
    """uint8 (n, h, w, 3) → (n, size, size, 3): the exported model's own resize (``models.resizing``)."""
    return resizing.resize_uint8(frames, size).numpy()


def decode_video(path: str, size: int, stride: int, chunk: int = 32) -> np.ndarray:
    """Every ``stride``-th frame of the file as uint8 (frames, size, size, 3) RGB; (0, ...) if unreadable."""
    capture = cv2.VideoCapture(str(path))
    frames, pending = [], []
    try:
        index = 0
        while capture.isOpened():
            if index % stride:
                if not capture.grab():
                    break
            else:
                ok, frame = capture.read()
                if not ok or frame is None or frame.size == 0:
                    break
                if frame.ndim == 2:
                    frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
                pending.append(cv2.cvtColor(frame[..., :3], cv2.COLOR_BGR2RGB))
                if len(pending) == chunk:
                    frames.append(resize_frames(np.stack(pending), size))
                    pending = []
            index += 1
    finally:
        capture.release()
    if pending:
        frames.append(resize_frames(np.stack(pending), size))
    return np.concatenate(frames) if frames else np.zeros((0, size, size, 3), np.uint8)


def probe(path: str | pathlib.Path) -> int:
    """Frames the container announces (at least 1), or 0 when OpenCV cannot decode a first frame."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            return 0
        ok, frame = capture.read()
        if not ok or frame is None or frame.size == 0:
            return 0
        return max(1, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
    finally:
        capture.release()


def read_clip(path: str, start: int, num_frames: int, stride: int, frame_size: int) -> tuple[np.ndarray, int]:
    """Decodes ``num_frames`` frames from ``start`` every ``stride`` frames, resized as the model resizes.

    Frames past the end of a short video repeat its last decoded frame.

    Returns:
        uint8 (num_frames, frame_size, frame_size, 3) RGB, and how many frames were really decoded
        (0: unreadable).
    """
    clip = np.zeros((num_frames, frame_size, frame_size, 3), np.uint8)
    capture = cv2.VideoCapture(path)
    decoded, frames = 0, []
    try:
        if not capture.isOpened():
            return clip, 0
        for _ in range(start):  # grab() skips without converting: cheap
            if not capture.grab():
                break
        while decoded < num_frames:
            ok, frame = capture.read()
            if not ok or frame is None:
                break
            if frame.ndim == 2:
                frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
            frames.append(cv2.cvtColor(frame[..., :3], cv2.COLOR_BGR2RGB))
            decoded += 1
            for _ in range(stride - 1):
                if not capture.grab():
                    break
    finally:
        capture.release()
    if frames:  # the exported model's own resize: training sees what serving will
        clip[:decoded] = resize_frames(np.stack(frames), frame_size)
    if 0 < decoded < num_frames:
        clip[decoded:] = clip[decoded - 1]
    return clip, decoded
