"""The annotated video (``--annotate``) and the page's preview: frames encoded in a thread of their own.

    writer = AnnotatedWriter(out / "annotated.mp4", width, height, fps)   # H.264 through PyAV when it can
    writer.put(frames_bgr, ["walking 0.93", ...])   # texts=None: the frames as they are (a preview)
    writer.close()
    writer.codec                                    # "h264" (browser-playable) or "mpeg4"

H.264 in MP4 (``libx264`` through PyAV, its threads on, ``ultrafast`` preset, yuv420p, converted
from BGR by OpenCV): what browsers play, at about the CPU cost of OpenCV's single-threaded MPEG-4
Part 2 writer (640x360: ~1.5 ms of CPU a frame, both) but spread over every core. Where PyAV or
its H.264 encoder is missing, OpenCV's MPEG-4 Part 2 (the encoder its wheels carry) is used
instead; it plays in desktop players, not in browsers. Odd sizes are padded by one pixel (both
codecs need even sizes in 4:2:0).
"""

from __future__ import annotations

import fractions
import pathlib
import queue
import threading

import cv2
import numpy as np

from pipelines.errors import UserError

H264_PRESET = "ultrafast"


def h264_available() -> bool:
    """Whether PyAV and an H.264 encoder are installed (what the page's preview needs)."""
    try:
        import av

        av.codec.Codec("libx264", "w")
    except Exception:  # no PyAV, or a build without libx264
        return False
    return True


class _PyAVH264:
    def __init__(self, path: pathlib.Path, size: tuple[int, int], fps: float):
        import av

        self._av = av
        self._container = av.open(str(path), mode="w")
        rate = fractions.Fraction(fps).limit_denominator(1001)
        self._stream = self._container.add_stream("libx264", rate=rate, options={"preset": H264_PRESET})
        self._stream.width, self._stream.height = size
        self._stream.pix_fmt = "yuv420p"
        self._stream.thread_type = "AUTO"

    def write(self, frame_bgr: np.ndarray) -> None:
        # OpenCV's BGR -> I420 costs ~0.2 ms a 640x360 frame, FFmpeg's swscale from bgr24 ~2 ms.
        frame = self._av.VideoFrame.from_ndarray(cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2YUV_I420), format="yuv420p")
        self._container.mux(self._stream.encode(frame))

    def release(self) -> None:
        self._container.mux(self._stream.encode(None))
        self._container.close()


class AnnotatedWriter:
    """Draws label and score on the decoded frames and encodes them, in its own thread.

    Args:
        path: the output .mp4.
        width, height: the input's frame size (odd sizes are padded to even).
        fps: frames per second of the output (the input's).
        scale: output size / input size (1: the input's size).
        max_queued: batches of frames waiting to be drawn (bounds memory).
        codec: ``"h264"`` (PyAV; falls back to MPEG-4 when unavailable) or ``"mpeg4"`` (OpenCV).
    """

    def __init__(
        self,
        path: pathlib.Path,
        width: int,
        height: int,
        fps: float,
        scale: float = 1.0,
        max_queued: int = 1,
        codec: str = "h264",
    ):
        if not 0 < scale <= 1:
            raise UserError(f"--annotate-scale must be in (0, 1], got {scale}")
        self.scale = scale
        if scale == 1:
            self.size = (width + width % 2, height + height % 2)
        else:  # even sizes, at least 2 pixels
            self.size = (max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2))
        self.codec = "h264" if codec == "h264" and h264_available() else "mpeg4"
        if self.codec == "h264":
            try:
                self._writer = _PyAVH264(path, self.size, fps)
            except OSError as error:
                raise UserError(f"cannot write {path}: {error}") from None
        else:
            self._writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, self.size)
            if not self._writer.isOpened():
                raise UserError(f"cannot write {path} (MPEG-4 encoder unavailable or folder not writable)")
        self._queue: queue.Queue = queue.Queue(maxsize=max_queued)
        self._error: BaseException | None = None
        self.frames_written = 0
        self._thread = threading.Thread(target=self._run, name="annotate", daemon=True)
        self._thread.start()
        text_scale = max(self.size[1], 240) / 480.0  # of the output
        self._font_scale, self._thickness = 0.8 * text_scale, max(1, round(2 * text_scale))

    def put(self, frames: list[np.ndarray], texts: list[str] | None = None) -> None:
        """Queues a batch of frames and the text to draw on each (None: no text)."""
        if self._error is not None:
            raise self._error
        self._queue.put((frames, texts or [None] * len(frames)))

    def _draw(self, frame: np.ndarray, text: str | None) -> np.ndarray:
        if frame.ndim == 2 or frame.shape[2] != 3:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR if frame.ndim == 2 else cv2.COLOR_BGRA2BGR)
        height, width = frame.shape[:2]
        if self.scale != 1:
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        elif (width, height) != self.size:
            frame = cv2.copyMakeBorder(frame, 0, self.size[1] - height, 0, self.size[0] - width, cv2.BORDER_REPLICATE)
        if text is None:
            return frame
        font = cv2.FONT_HERSHEY_SIMPLEX
        (text_width, text_height), baseline = cv2.getTextSize(text, font, self._font_scale, self._thickness)
        margin = max(2, text_height // 3)
        cv2.rectangle(frame, (0, 0), (text_width + 2 * margin, text_height + baseline + 2 * margin), (0, 0, 0), -1)
        cv2.putText(
            frame,
            text,
            (margin, text_height + margin),
            font,
            self._font_scale,
            (255, 255, 255),
            self._thickness,
            cv2.LINE_AA,
        )
        return frame

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is not None:
                continue  # keep draining so the producer never blocks
            try:
                for frame, text in zip(*item):
                    self._writer.write(self._draw(frame, text))
                    self.frames_written += 1
            except BaseException as error:  # re-raised in the main thread
                self._error = error

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._writer.release()
        if self._error is not None:
            raise self._error
