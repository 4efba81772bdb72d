"""Decoding a video file to what classify-video needs, without a full-size colour conversion.

    for time_ms, frame in decode_file("clip.mp4", threads=1):   # frame: Planes (Y, U, V views) or BGR
        ...
    bgr = to_bgr(frame)                                           # the full-size frame (annotated video)
    rgb = ycc_to_rgb(ycc, full_range)                             # model-sized planes, stacked, to RGB

OpenCV's ``VideoCapture.read`` hands over every frame converted to full-size BGR (FFmpeg's swscale:
0.5 ms a 1280x720 frame on our 2-core machine), and classify-video then shrinks that to the
model's 32 or 64 pixels (another 0.5 ms). Decoding through PyAV (the same FFmpeg decoders) gives
the decoder's own 4:2:0 planes instead: the Y, U and V planes are shrunk separately (0.25 ms in
all at 720p) and only the model-sized result is converted to RGB, with the BT.601 matrix swscale
applies (limited range, or full range for JPEG-range video), so the model sees what it saw in
training within a grey level or two. Other pixel formats (4:2:2, 4:4:4, 10-bit, palettes, grey)
are converted to BGR by swscale as OpenCV would.

A packet the decoder rejects is skipped (OpenCV does the same); a container that breaks off
part-way ends the frames there. ``decode_file`` returns None when PyAV is missing, cannot open or
decode the file, or the video carries a rotation (OpenCV turns such frames upright, and training
read them through OpenCV); the caller then falls back to OpenCV.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from typing import NamedTuple

import cv2
import numpy as np

FAST_FORMATS = {"yuv420p": False, "yuvj420p": True}  # 8-bit 4:2:0; value: full (JPEG) range by format
_JPEG_RANGE = 2  # AVCOL_RANGE_JPEG


class Planes(NamedTuple):
    """One decoded 4:2:0 frame: views of the decoder's planes (read-only: the decoder may still
    use the frame as a reference), and whether its samples are full range."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    full_range: bool


def _plane(plane) -> np.ndarray:
    rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width]


def _frame(frame) -> Planes | np.ndarray:
    full_range = FAST_FORMATS.get(frame.format.name)
    if full_range is None:
        return frame.to_ndarray(format="bgr24")
    y, u, v = (_plane(plane) for plane in frame.planes[:3])
    return Planes(y, u, v, full_range or frame.color_range == _JPEG_RANGE)


def decode_file(path: str | os.PathLike, threads: int = 0) -> Iterator[tuple[float, Planes | np.ndarray]] | None:
    """(presentation time in ms, frame) for each frame of the file's first video stream, or None
    when PyAV is not installed or cannot open the file. ``threads``: FFmpeg's decoding threads
    (0: one per core)."""
    try:
        import av
    except ImportError:
        return None
    try:
        container = av.open(str(path))
        stream = container.streams.video[0]
    except (av.FFmpegError, IndexError, OSError):
        return None
    stream.thread_type = "AUTO"
    stream.thread_count = threads
    frames = _frames(av, container, stream, timed=container.format.name != "avi")
    first = next(frames, None)
    if first is None or first[2]:  # nothing decodable, or a rotated (phone) video: OpenCV turns those upright
        frames.close()
        return None
    return itertools.chain([first[:2]], (item[:2] for item in frames))


def _frames(av, container, stream, timed: bool):
    """(time in ms, frame, rotation) of every frame. AVI has no presentation times (PyAV reports
    decode-order guesses that go backwards around B-frames): NaN, i.e. one frame period each."""
    try:
        packets = container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except av.FFmpegError:  # the container breaks off: the frames so far are what there is
                packet = None
            try:
                frames = stream.decode(packet)
            except av.FFmpegError:  # a corrupt packet: skipped, as OpenCV does
                continue
            for frame in frames:
                time_ms = 1000.0 * frame.time if timed and frame.time is not None else float("nan")
                yield time_ms, _frame(frame), frame.rotation
            if packet is None:
                return
    finally:
        container.close()


# BT.601 YCbCr -> RGB, as swscale converts by default: rows R, G, B over (Y, Cb, Cr) after the
# offsets below. Limited range scales Y by 255/219 and chroma by 255/224.
_LIMITED = np.array([[1.164384, 0.0, 1.596027], [1.164384, -0.391762, -0.812968], [1.164384, 2.017232, 0.0]])
_FULL = np.array([[1.0, 0.0, 1.402], [1.0, -0.344136, -0.714136], [1.0, 1.772, 0.0]])


def ycc_to_rgb(ycc: np.ndarray, full_range: np.ndarray) -> np.ndarray:
    """(n, h, w, 3) float32 Y, Cb, Cr samples (model-sized) -> RGB uint8; ``full_range``: (n,) bool."""
    ycc = ycc - np.float32([16.0, 128.0, 128.0])
    rgb = ycc @ _LIMITED.T.astype(np.float32)
    if full_range.any():  # (rare) JPEG-range frames: no offset on Y, unscaled matrix
        full = ycc[full_range] + np.float32([16.0, 0.0, 0.0])
        rgb[full_range] = full @ _FULL.T.astype(np.float32)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def to_bgr(frame: Planes | np.ndarray) -> np.ndarray:
    """The full-size BGR frame (a copy)."""
    if not isinstance(frame, Planes):
        return frame
    height, width = frame.y.shape
    if frame.full_range or width % 2 or height % 2:  # (rare) cv2's I420 conversion takes neither
        chroma = [cv2.resize(plane, (width, height), interpolation=cv2.INTER_NEAREST) for plane in (frame.u, frame.v)]
        ycc = np.stack([frame.y, *chroma], axis=-1).astype(np.float32)[np.newaxis]
        return ycc_to_rgb(ycc, np.array([frame.full_range]))[0, ..., ::-1].copy()
    i420 = np.concatenate([frame.y.reshape(-1), frame.u.reshape(-1), frame.v.reshape(-1)])
    return cv2.cvtColor(i420.reshape(height * 3 // 2, width), cv2.COLOR_YUV2BGR_I420)
