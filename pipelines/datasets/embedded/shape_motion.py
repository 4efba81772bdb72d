"""Renders clips of one moving shape whose class is the *motion*, and long videos of such segments.

A clip is a random shape (square, triangle, star, cross: none looks the same after a small
rotation) of random colour, size and start on a random textured background, moving one of
eight ways at a random speed. Any single frame is consistent with every motion, so telling the
classes apart needs at least two frames: the point of the video model's recurrence.

:func:`render_clip` makes one labelled clip, :func:`render_long_video` concatenates segments of
different motions (each a cut to a new scene) with per-frame labels, and :func:`write_video`
writes frames to an .mp4/.avi file with OpenCV (tests, benchmarks and ``classify-video`` use it).
"""

from __future__ import annotations

import dataclasses
import pathlib

import cv2
import numpy as np

from pipelines.datasets.embedded import shapes

MOTIONS = ("left", "right", "up", "down", "grow", "shrink", "rotate_cw", "rotate_ccw")
# Shapes whose rotation is visible (a circle or ring would make rotate_* invisible).
MOTION_SHAPES = ("square", "triangle", "star", "cross")


@dataclasses.dataclass(frozen=True)
class MotionRanges:
    """Per-frame motion speeds, relative to the frame size where it makes sense."""

    shift: tuple[float, float] = (0.025, 0.05)  # fraction of the frame per frame
    scale: tuple[float, float] = (0.035, 0.06)  # relative radius change per frame
    spin: tuple[float, float] = (0.10, 0.20)  # radians per frame (below every shape's symmetry/2)
    radius: tuple[float, float] = (0.14, 0.24)  # fraction of the frame at the clip's middle frame


def _trajectory(
    rng: np.random.Generator, motion: str, num_frames: int, size: int, ranges: MotionRanges
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame centres (T, 2), radii (T,) and angles (T,) for one motion."""
    steps = np.arange(num_frames, dtype=np.float64)
    middle = (num_frames - 1) / 2
    radius0 = rng.uniform(*ranges.radius) * size
    radii = np.full(num_frames, radius0)
    angles = np.full(num_frames, rng.uniform(0, 2 * np.pi))
    velocity = np.zeros(2)
    if motion in ("left", "right", "up", "down"):
        speed = rng.uniform(*ranges.shift) * size
        velocity = {"left": (-speed, 0), "right": (speed, 0), "up": (0, -speed), "down": (0, speed)}[motion]
        velocity = np.asarray(velocity, np.float64)
    elif motion in ("grow", "shrink"):
        rate = rng.uniform(*ranges.scale) * (1 if motion == "grow" else -1)
        radii = radius0 * np.exp(rate * (steps - middle))
    elif motion in ("rotate_cw", "rotate_ccw"):
        spin = rng.uniform(*ranges.spin)
        # Angles are counter-clockwise on screen, so clockwise turns decrease them.
        angles = angles[0] + (-spin if motion == "rotate_cw" else spin) * steps
    else:
        raise ValueError(f"unknown motion '{motion}'; known: {', '.join(MOTIONS)}")
    # Place the path so the shape stays (mostly) inside the frame the whole time.
    travel = velocity[None, :] * (steps - middle)[:, None]
    margin = radii.max() * 0.8
    low = margin - travel.min(axis=0)
    high = size - margin - travel.max(axis=0)
    middle_center = np.array([rng.uniform(lo, hi) if hi > lo else (lo + hi) / 2 for lo, hi in zip(low, high)])
    return middle_center[None, :] + travel, radii, angles


def render_clip(
    rng: np.random.Generator,
    motion: str,
    num_frames: int = 16,
    size: int = 32,
    ranges: MotionRanges = MotionRanges(),
) -> np.ndarray:
    """One clip of a random shape moving as ``motion``; uint8 (num_frames, size, size, 3) RGB."""
    background = shapes.render_background(rng, size, size)
    kind = MOTION_SHAPES[rng.integers(len(MOTION_SHAPES))]
    color = shapes.contrasting_color(rng, background)
    shading = rng.uniform(-25, 25)
    centers, radii, angles = _trajectory(rng, motion, num_frames, size, ranges)
    frames = np.empty((num_frames, size, size, 3), np.uint8)
    for index in range(num_frames):
        params = shapes.ShapeParams(kind, tuple(centers[index]), float(radii[index]), float(angles[index]), color)
        frames[index] = shapes.finish(shapes.draw_shape(background, params, shading=shading), rng, noise=3.0)
    return frames


def render_long_video(
    seed: int,
    num_segments: int,
    size: int = 32,
    segment_frames: tuple[int, int] = (16, 24),
    motions: tuple[str, ...] = MOTIONS[:6],
) -> tuple[np.ndarray, np.ndarray]:
    """A video of consecutive motion segments (each a cut to a new scene), with per-frame labels.

    The defaults match the embedded dataset: its six motions (no rotation), and segments short
    enough that a shape moving at the dataset's speeds stays in view (past ~24 frames it leaves
    the frame or grows past it, and the motion is no longer visible).

    Consecutive segments always differ in motion. Deterministic for a given ``seed``.

    Returns:
        ``frames`` uint8 (T, size, size, 3) RGB and ``labels`` int64 (T,), indices into ``motions``.
    """
    rng = np.random.default_rng([20261128, seed])
    all_frames, all_labels = [], []
    previous = -1
    for _ in range(num_segments):
        label = int(rng.integers(len(motions) - (previous >= 0)))
        if previous >= 0 and label >= previous:
            label += 1  # skip the previous motion
        length = int(rng.integers(segment_frames[0], segment_frames[1] + 1))
        all_frames.append(render_clip(rng, motions[label], length, size))
        all_labels.append(np.full(length, MOTIONS.index(motions[label]), np.int64))
        previous = label
    return np.concatenate(all_frames), np.concatenate(all_labels)


def write_video(path: str | pathlib.Path, frames: np.ndarray, fps: float = 25.0) -> pathlib.Path:
    """Writes uint8 RGB frames (T, H, W, 3) to a video file (codec chosen by extension).

    ``.avi`` uses MJPG (near-lossless at OpenCV's default quality); anything else ``mp4v``.
    """
    path = pathlib.Path(path)
    height, width = frames.shape[1:3]
    codec = "MJPG" if path.suffix.lower() == ".avi" else "mp4v"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (width, height))
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write {path} with codec {codec}")
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return path
