"""Decoding a video file in its own thread, in batches of model-sized RGB frames.

    reader = VideoReader("clip.mp4", image_size=64, batch_size=32, keep_originals=True)
    print(reader.info)                  # codec, width, height, fps, frame count (as the header says)
    for chunk in reader:                # Chunk(start, times_s, pixels (n, 64, 64, 3) RGB uint8, originals)
        ...
    reader.frames_read, reader.warning  # what was really decoded; set when the file broke off early

OpenCV (FFmpeg) decodes in a background thread that fills a bounded queue, and the consumer's thread
resizes each chunk as it takes it, so decoding overlaps resizing and inference (two busy threads for
two cores: a third, resizing on its own, only took turns with the decoder), and memory stays
constant for any length of video. Each frame is resized once, straight from the decoder's 4:2:0
planes (``serving.video_decode``, PyAV; OpenCV's BGR frame where PyAV cannot take the file), by
``shrink`` (anti-aliased like the models' ``Resizing(antialias=True)``, at about a quarter of the
cost of decoding the frame). The model's own resize layer then sees frames already at its size,
where it is the identity. Channels are swapped to RGB after the resize (cheaper on the small
frame). Grayscale or odd-sized frames and 1080p+ all go the same way.

What real files do, and what the reader does about it:

- the frame count in the header is an estimate (or 0, or wrong): frames are read until the decoder
  stops; ``frames_read`` is the truth, ``info.frame_count`` only feeds the progress bar;
- variable frame rate: each frame's time is its presentation time (``CAP_PROP_POS_MSEC``), counted
  from the first frame and kept increasing (``FrameClock``): where the backend reports none, or the
  same time twice (OpenCV does both on some AVIs), a frame comes one frame period after the last;
- a file that breaks off part-way: the frames before the break are delivered and ``warning`` says
  that fewer frames were decoded than the header announced.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import pathlib
import queue
import threading
from collections.abc import Iterator

import cv2
import numpy as np

from common.errors import UserError
from serving.classify import video_decode
from serving.classify.prefetch import drain, put_unless_set

# FFmpeg and OpenCV print to the C-level stderr (e.g. "moov atom not found" for a file that is not a
# video). The command line promises one line of stderr for bad input, so both are silenced; OpenCV
# reads these when it opens a capture, so setting them after the import is enough.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")

# Decoded full-size frames per chunk: large frames (1080p is 6 MB each) get smaller chunks, so
# memory stays within a few times this bound whatever the resolution. (Inference costs the same
# per frame from about 16 frames a call up, so 640x480 chunks of 26 frames lose nothing.)
FRAME_BYTES_PER_BATCH = 24 << 20
_END = object()


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What the container says about the video (``frame_count`` and ``fps`` may be estimates)."""

    path: str
    codec: str
    width: int
    height: int
    fps: float
    frame_count: int


@dataclasses.dataclass
class Chunk:
    """Consecutive decoded frames.

    Attributes:
        start: index of the first frame (0-based).
        times_s: (n,) presentation time of each frame in seconds.
        pixels: (n, image_size, image_size, 3) uint8 RGB, the model's input.
        originals: the n decoded frames at full size, as the decoder gave them (4:2:0
            ``video_decode.Planes`` or BGR arrays; only when ``keep_originals``), else None.
        arrived: (n,) ``time.monotonic()`` when each frame arrived (live sources only), else None.
    """

    start: int
    times_s: np.ndarray
    pixels: np.ndarray
    originals: list[np.ndarray | video_decode.Planes] | None
    arrived: np.ndarray | None = None


def _fourcc_text(value: float) -> str:
    code = int(value)
    text = "".join(chr((code >> (8 * index)) & 0xFF) for index in range(4))
    return text.strip("\x00 ") if text.isprintable() else ""


def probe(path: str | os.PathLike) -> VideoInfo:
    """Opens the file and decodes its first frame; a clear ``UserError`` when that is not possible."""
    path = pathlib.Path(path)
    if not path.exists():
        raise UserError(f"video file not found: {path}")
    if path.is_dir():
        raise UserError(f"{path} is a directory; give a video file")
    if path.stat().st_size == 0:
        raise UserError(f"{path} is empty (0 bytes)")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise UserError(f"cannot read {path} as a video (not a video file, or cut off before its index)")
        ok, frame = capture.read()
        if not ok or frame is None:
            raise UserError(f"{path} has no decodable frames")
        height, width = frame.shape[:2]
        fps = capture.get(cv2.CAP_PROP_FPS)
        return VideoInfo(
            path=str(path),
            codec=_fourcc_text(capture.get(cv2.CAP_PROP_FOURCC)),
            width=int(width),
            height=int(height),
            fps=float(fps) if np.isfinite(fps) and fps > 0 else 0.0,
            frame_count=max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0),
        )
    finally:
        capture.release()


def resize_frame(frame_bgr: np.ndarray, image_size: int | None) -> np.ndarray:
    """One decoded frame (BGR or grayscale, any size) → (image_size, image_size, 3) RGB uint8."""
    if frame_bgr.ndim == 2 or frame_bgr.shape[2] == 1:
        frame_bgr = cv2.cvtColor(frame_bgr, cv2.COLOR_GRAY2BGR)
    elif frame_bgr.shape[2] == 4:
        frame_bgr = cv2.cvtColor(frame_bgr, cv2.COLOR_BGRA2BGR)
    if image_size:
        frame_bgr = shrink(frame_bgr, image_size)
    return np.ascontiguousarray(frame_bgr[..., ::-1])


def model_input(frames: list[np.ndarray | video_decode.Planes], image_size: int | None) -> np.ndarray:
    """(n, image_size, image_size, 3) RGB uint8 from decoded frames (BGR, or 4:2:0 planes, each
    plane shrunk on its own and only the model-sized result converted to RGB)."""
    if not image_size or not all(isinstance(frame, video_decode.Planes) for frame in frames):
        return np.stack([resize_frame(video_decode.to_bgr(frame), image_size) for frame in frames])
    ycc = np.empty((len(frames), image_size, image_size, 3), np.float32)
    for index, frame in enumerate(frames):
        for channel, plane in enumerate((frame.y, frame.u, frame.v)):
            ycc[index, ..., channel] = shrink(plane, image_size)
    return video_decode.ycc_to_rgb(ycc, np.array([frame.full_range for frame in frames]))


def shrink(frame: np.ndarray, size: int) -> np.ndarray:
    """Resizes ``frame`` to ``size`` x ``size``: a box filter when shrinking, bilinear when enlarging.

    The box filter (``cv2.INTER_AREA``) is anti-aliased like the models' ``Resizing(antialias=True)``,
    but at a scale that is not a whole number it costs about 0.7 ms on a 640x360 frame, as much as
    decoding the frame, and OpenCV's whole-number path is still 0.2 ms there. Halving is cheap:
    bilinear at exactly half the size is the mean of 2x2 blocks, and OpenCV vectorises it. So a large
    shrink goes in steps: halvings while the frame is at least 4x ``size`` on both sides (an odd last
    row or column dropped), then the mean of whole k_x x k_y blocks (the few rows and columns left
    over are dropped, half on each side), then the box filter over the rest, by then within 2x of
    ``size``. 640x360 to 32x32: 0.10 ms instead of 0.21 (1280x720: 0.21 instead of 0.69). On real
    frames the result differs from TensorFlow's anti-aliased resize by 1-2 grey levels on average.
    """
    height, width = frame.shape[:2]
    if height <= size and width <= size:
        return cv2.resize(frame, (size, size), interpolation=cv2.INTER_LINEAR)
    while height >= 4 * size and width >= 4 * size:
        height, width = height // 2, width // 2
        frame = cv2.resize(frame[: 2 * height, : 2 * width], (width, height), interpolation=cv2.INTER_LINEAR)
    factor_x, factor_y = max(1, width // size), max(1, height // size)
    if factor_x > 1 or factor_y > 1:
        kept_width, kept_height = width // factor_x * factor_x, height // factor_y * factor_y
        left, top = (width - kept_width) // 2, (height - kept_height) // 2
        frame = cv2.resize(
            frame[top : top + kept_height, left : left + kept_width],
            (kept_width // factor_x, kept_height // factor_y),
            interpolation=cv2.INTER_AREA,
        )
    return cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)


class FrameClock:
    """Turns the decoder's timestamps into seconds from the first frame that always increase.

    OpenCV reports the presentation time of the frame just read, but on some AVIs (UCF101's XviD
    files) every time is one frame period late and the last frame repeats the time before it, and
    some backends report 0 or nothing. Times are made relative to the first frame (which the
    annotated video also starts with), and a time that is missing or not after the previous one
    becomes the previous one plus a frame period.
    """

    def __init__(self, fps: float):
        self.period = 1.0 / fps if fps > 0 else 1.0 / 25.0
        self._first: float | None = None
        self._last: float | None = None

    def __call__(self, reported_ms: float) -> float:
        reported = reported_ms / 1000.0 if np.isfinite(reported_ms) else None
        if self._last is None:
            self._first, time_s = (reported or 0.0), 0.0
        elif reported is None or reported - self._first <= self._last:
            time_s = self._last + self.period
        else:
            time_s = reported - self._first
        self._last = time_s
        return time_s


def decoded_frames(
    path: str | os.PathLike, threads: int = 0, decoder: str = "pyav"
) -> Iterator[tuple[float, np.ndarray | video_decode.Planes]]:
    """(presentation time in ms, decoded frame) for every frame of the file: 4:2:0 planes through
    PyAV where it opens the file (``decoder="pyav"``), else BGR through OpenCV. ``threads``: FFmpeg's
    decoding threads (0: FFmpeg's default)."""
    frames = video_decode.decode_file(path, threads) if decoder == "pyav" else None
    if frames is not None:
        yield from frames
        return
    params = [cv2.CAP_PROP_N_THREADS, threads] if threads else []
    capture = cv2.VideoCapture(str(path), cv2.CAP_ANY, params)
    try:
        while True:
            ok, frame = capture.read()
            if not ok or frame is None:
                return
            yield capture.get(cv2.CAP_PROP_POS_MSEC), frame
    finally:
        capture.release()


class VideoReader:
    """Iterates over a video file in ``Chunk``s, decoded by a background thread.

    Args:
        path: the video file.
        image_size: side of the square frames the model takes (frames are stretched, as the
            model's resize layer does); None keeps the decoded size (all frames must match).
        batch_size: frames per chunk (fewer for frames so large that a chunk would pass 24 MB).
        keep_originals: also deliver the full-size decoded frames (for the annotated video).
        queue_chunks: chunks decoded ahead of the consumer (default 2; 1 with ``keep_originals``,
            whose full-size frames then live on downstream: at most the chunk being decoded, the
            queued one and the consumer's are alive in the reader).
        decoder_threads: FFmpeg's decoding threads (0: one per core).
        decoder: ``"pyav"`` (``serving.video_decode``: no full-size colour conversion; OpenCV where
            PyAV cannot open the file) or ``"opencv"`` (``cv2.VideoCapture``, BGR frames).

    Raises:
        UserError: the file is missing, empty, a directory, not a video or has no frames.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        image_size: int | None,
        batch_size: int = 32,
        keep_originals: bool = False,
        queue_chunks: int | None = None,
        decoder_threads: int = 0,
        decoder: str = "pyav",
    ):
        if batch_size < 1:
            raise UserError(f"batch size must be at least 1, got {batch_size}")
        self.info = probe(path)
        self.image_size = image_size
        self.keep_originals = keep_originals
        self.decoder_threads = decoder_threads
        self.decoder = decoder
        frame_bytes = self.info.width * self.info.height * 3
        self.batch_size = max(1, min(batch_size, FRAME_BYTES_PER_BATCH // frame_bytes))
        self.frames_read = 0
        self.warning: str | None = None
        if queue_chunks is None:
            queue_chunks = 1 if keep_originals else 2
        self._queue: queue.Queue = queue.Queue(maxsize=queue_chunks)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _put(self, item) -> bool:
        """Puts into the bounded queue, giving up when the consumer has stopped."""
        return put_unless_set(self._queue, item, self._stop)

    def _prepare(self, start: int, times: list[float], frames: list) -> Chunk:
        return Chunk(
            start=start,
            times_s=np.asarray(times, np.float64),
            pixels=model_input(frames, self.image_size),
            originals=frames if self.keep_originals else None,  # the annotated video's writer takes planes
        )

    def _decode(self) -> None:
        # Decoding (this thread) and resizing (the consumer's, in __iter__) overlap: both release
        # the GIL, so chunk k is resized and classified while chunk k + 1 is decoded.
        frames = decoded_frames(self.info.path, self.decoder_threads, self.decoder)
        try:
            clock = FrameClock(self.info.fps)
            index = 0
            while not self._stop.is_set():
                times, batch = [], []
                for time_ms, frame in itertools.islice(frames, self.batch_size):
                    times.append(clock(time_ms))
                    batch.append(frame)
                index += len(batch)
                if not batch:
                    break
                if not self._put((index - len(batch), times, batch)):
                    return
                if len(batch) < self.batch_size:
                    break
            self.frames_read = index
            announced = self.info.frame_count
            if announced and index < announced - max(1, announced // 100):
                self.warning = (
                    f"{self.info.path}: decoding stopped after {index} of the {announced} frames its header "
                    "announces (the file may be truncated or damaged); the frames read were classified"
                )
            self._put(_END)
        except BaseException as error:  # handed to the consumer, which re-raises it
            self._put(error)
        finally:
            frames.close()

    def start(self) -> None:
        """Starts decoding ahead (``__iter__`` does it too): a folder run opens the next file early."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._decode, name="video-decode", daemon=True)
            self._thread.start()

    def __iter__(self) -> Iterator[Chunk]:
        self.start()
        try:
            for item in drain(self._queue, _END):
                yield self._prepare(*item)
        finally:
            self.close()

    def close(self) -> None:
        """Stops the decoding thread (also when the consumer stops early)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
