"""Live sources for classify-video: a stream URL (rtsp, http(s), udp, ...) or a camera index.

    source = live_source.parse("rtsp://camera/stream")   # or "0" -> camera 0; None for a file or folder
    reader = LiveReader(source, image_size=64, batch_size=32)
    for chunk in reader:      # Chunk(start, times_s, pixels, originals, arrived): what has arrived so far
        ...
    reader.stop()             # from a signal handler: stop capturing; the frames already read still come

A capture thread reads frames as OpenCV (FFmpeg, or V4L2 for a camera) delivers them, stamps each
with its arrival time (``time.monotonic()``), resizes it to the model's input and queues it. The
consumer takes whatever has arrived, at least one frame and at most ``batch_size``, and never waits
for a batch to fill: on a 30 fps stream a batch is one or two frames and the delay from arrival to
decision stays at one inference call. No frame is dropped: when the consumer falls behind, frames
wait in the queue (bounded at ``MAX_QUEUED`` frames, then the capture thread waits, and FFmpeg's
own buffer takes the rest).

``time_s`` of a frame is its arrival time, counted from the first frame's. A stream that stops
delivering (read fails, or ``READ_TIMEOUT_S`` without a frame) is reopened up to ``retries`` times,
``retry_delay`` seconds apart; then the reader ends and ``warning`` says so.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Iterator

import cv2
import numpy as np

from common.errors import UserError
from serving.classify import video_reader  # noqa: F401 (silences FFmpeg/OpenCV logging before any capture opens)
from serving.classify.prefetch import put_unless_set
from serving.classify.video_reader import Chunk, VideoInfo, _fourcc_text, resize_frame

STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https", "udp", "rtp", "tcp", "srt")
OPEN_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 5.0
MAX_QUEUED = 3000  # frames waiting for the consumer (model-sized: ~12 KB each at 64x64)
_END = object()
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # e.g. "can't open camera by index": ours says it


def parse(video: str) -> str | int | None:
    """A stream URL (as given), a camera index (int), or None for a path on disk."""
    if re.match(rf"^({'|'.join(STREAM_SCHEMES)})://", video, re.IGNORECASE):
        return video
    if video.isdigit():
        return int(video)
    return None


def describe(source: str | int) -> str:
    return f"camera {source}" if isinstance(source, int) else source


def _open(source: str | int) -> cv2.VideoCapture:
    if isinstance(source, int):
        return cv2.VideoCapture(source)
    timeouts = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(OPEN_TIMEOUT_S * 1000)]
    timeouts += [cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(READ_TIMEOUT_S * 1000)]
    return cv2.VideoCapture(source, cv2.CAP_FFMPEG, timeouts)


def _open_checked(source: str | int) -> tuple[cv2.VideoCapture, np.ndarray, float, VideoInfo]:
    """Opens the source and reads its first frame: (capture, frame, arrival time, info), or UserError."""
    name = describe(source)
    capture = _open(source)
    if not capture.isOpened():
        if isinstance(source, int):
            raise UserError(f"camera {source} does not exist or cannot be opened; give an existing camera index")
        raise UserError(f"cannot open the stream {source} (unreachable, or not a video stream); check the URL")
    ok, frame = capture.read()
    arrived = time.monotonic()
    if not ok or frame is None:
        capture.release()
        raise UserError(f"{name} opened but sent no frame; check that it is streaming")
    fps = capture.get(cv2.CAP_PROP_FPS)
    info = VideoInfo(
        path=name,
        codec=_fourcc_text(capture.get(cv2.CAP_PROP_FOURCC)),
        width=int(frame.shape[1]),
        height=int(frame.shape[0]),
        fps=float(fps) if np.isfinite(fps) and 0 < fps < 1000 else 0.0,
        frame_count=0,
    )
    return capture, frame, arrived, info


def probe(source: str | int) -> VideoInfo:
    """Checks that the source opens and sends a frame (bad input fails here, before the model loads)."""
    capture, _, _, info = _open_checked(source)
    capture.release()
    return info


class LiveReader:
    """Frames of a live source in ``Chunk``s of what has arrived (see the module's docstring).

    Raises:
        UserError: the camera does not exist, the URL cannot be opened, or it sends no frame.
    """

    def __init__(
        self,
        source: str | int,
        image_size: int | None,
        batch_size: int = 32,
        keep_originals: bool = False,
        retries: int = 3,
        retry_delay: float = 1.0,
    ):
        if batch_size < 1:
            raise UserError(f"batch size must be at least 1, got {batch_size}")
        if retries < 0 or retry_delay < 0:
            raise UserError("--retries and --retry-delay must be 0 or more")
        self.source, self.name = source, describe(source)
        self.image_size, self.batch_size, self.keep_originals = image_size, batch_size, keep_originals
        self.retries, self.retry_delay = retries, retry_delay
        self._capture, frame, arrived, self.info = _open_checked(source)
        self._first = (frame, arrived)
        self.frames_read = 0
        self.reconnects = 0
        self.warning: str | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=MAX_QUEUED if not keep_originals else 256)
        self._stop = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    def stop(self) -> None:
        """Stops capturing (safe from a signal handler); the frames already read are still delivered."""
        self._stop.set()

    def _put(self, item) -> bool:
        return put_unless_set(self._queue, item, self._closed)

    def _reconnect(self) -> bool:
        self._capture.release()
        for _ in range(self.retries):
            if self._stop.wait(self.retry_delay):
                return False
            self._capture = _open(self.source)
            if self._capture.isOpened():
                self.reconnects += 1
                return True
            self._capture.release()
        return False

    def _read(self) -> None:
        frame, arrived = self._first
        self._first = None
        try:
            while True:
                pixels = resize_frame(frame, self.image_size)
                if not self._put((arrived, pixels, frame if self.keep_originals else None)):
                    return
                self.frames_read += 1
                frame = None
                while frame is None and not self._stop.is_set():
                    ok, frame = self._capture.read()
                    arrived = time.monotonic()
                    if not ok or frame is None:
                        frame = None
                        if not self._reconnect():
                            if not self._stop.is_set():
                                self.warning = (
                                    f"{self.name}: the stream ended or dropped after {self.frames_read} frames "
                                    f"and did not come back after {self.retries} retries; outputs cover those frames"
                                )
                            break
                if frame is None:
                    break
            self._put(_END)
        except BaseException as error:  # handed to the consumer, which re-raises it
            self._put(error)
        finally:
            self._capture.release()

    def __iter__(self) -> Iterator[Chunk]:
        self._thread = threading.Thread(target=self._read, name="live-capture", daemon=True)
        self._thread.start()
        start, first_arrival, ended = 0, None, False
        try:
            while not ended:
                items = [self._queue.get()]
                while len(items) < self.batch_size:  # what has arrived, never waiting for more
                    try:
                        items.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                if items[-1] is _END:
                    ended = True
                    items.pop()
                if items and isinstance(items[-1], BaseException):
                    raise items[-1]
                if not items:
                    continue
                arrived = np.array([item[0] for item in items])
                first_arrival = arrived[0] if first_arrival is None else first_arrival
                yield Chunk(
                    start=start,
                    times_s=arrived - first_arrival,
                    pixels=np.stack([item[1] for item in items]),
                    originals=[item[2] for item in items] if self.keep_originals else None,
                    arrived=arrived,
                )
                start += len(items)
        finally:
            self.close()

    def close(self) -> None:
        self._stop.set()
        self._closed.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=READ_TIMEOUT_S + 1)
