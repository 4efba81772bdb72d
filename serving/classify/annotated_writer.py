"""The annotated video (``--annotate``) and the page's preview: frames encoded in a thread of their own.

    writer = AnnotatedWriter(out / "annotated.mp4", width, height, fps)   # H.264 through PyAV when it can
    writer.put(frames, ["walking 0.93", ...])   # decoded 4:2:0 Planes or BGR; texts=None: as they are
    writer.close()
    writer.codec                                 # "h264" (browser-playable) or "mpeg4"

The frames stay in 4:2:0 from the decoder to the encoder. The decoder's planes (``video_decode.Planes``)
are copied into the encoder's frame (resized plane by plane for ``scale`` < 1), and the label is drawn
on them: a black box and white text on the Y plane, neutral chroma under the box, which is what the
same drawing in BGR becomes in 4:2:0. At 1280x720 that costs 0.14 ms of CPU a frame, where the
round trip through BGR cost 6.2 ms on the same 2-core machine (the decoder's planes to BGR 3.2,
BGR back to I420 for x264 1.6, PyAV's ``VideoFrame.from_ndarray`` 1.4), more than decoding the
frame. BGR frames (OpenCV's decoder, live sources) are converted to I420 by OpenCV once.

H.264 in MP4 (``libx264`` through PyAV, its threads on, ``ultrafast`` preset, yuv420p): what browsers
play, spread over every core. Where PyAV or its H.264 encoder is missing, OpenCV's MPEG-4 Part 2
(the encoder its wheels carry, single-threaded) is used instead, from BGR; it plays in desktop
players, not in browsers. Odd sizes are padded by one pixel (both codecs need even sizes in 4:2:0).
"""

from __future__ import annotations

import fractions
import pathlib
import queue
import threading

import cv2
import numpy as np

from common.errors import UserError
from serving.classify.video_decode import Planes, to_bgr

H264_PRESET = "ultrafast"
# Limited-range (BT.601 "TV") levels, what the encoders are given: black, white, no colour.
BLACK, WHITE, NEUTRAL = 16, 235, 128
MAX_LABELS = 1024  # rendered label patches kept (each a few kB)


def h264_available() -> bool:
    """Whether PyAV and an H.264 encoder are installed (what the page's preview needs)."""
    try:
        import av

        av.codec.Codec("libx264", "w")
    except Exception:  # no PyAV, or a build without libx264
        return False
    return True


class _PyAVH264:
    """Encodes I420 frames with libx264; ``new_frame`` hands out the planes of a frame to fill."""

    def __init__(self, path: pathlib.Path, size: tuple[int, int], fps: float):
        import av

        self._av = av
        self.size = size
        self._container = av.open(str(path), mode="w")
        rate = fractions.Fraction(fps).limit_denominator(1001)
        self._stream = self._container.add_stream("libx264", rate=rate, options={"preset": H264_PRESET})
        self._stream.width, self._stream.height = size
        self._stream.pix_fmt = "yuv420p"
        self._stream.thread_type = "AUTO"

    def new_frame(self):
        """A fresh frame and writable (height, width) views of its Y, U and V planes."""
        frame = self._av.VideoFrame(*self.size, "yuv420p")
        views = [
            np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]
            for plane in frame.planes
        ]
        return frame, views

    def write(self, frame) -> None:
        self._container.mux(self._stream.encode(frame))

    def release(self) -> None:
        self._container.mux(self._stream.encode(None))
        self._container.close()


class _OpenCVMPEG4:
    """OpenCV's MPEG-4 Part 2 writer behind the same interface (it takes BGR: converted back)."""

    def __init__(self, path: pathlib.Path, size: tuple[int, int], fps: float):
        self.size = size
        self._writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        if not self._writer.isOpened():
            raise UserError(f"cannot write {path} (MPEG-4 encoder unavailable or folder not writable)")

    def new_frame(self):
        width, height = self.size
        i420 = np.empty((height * 3 // 2, width), np.uint8)  # Y rows, then U, then V (each a quarter)
        chroma = i420[height:].reshape(2, height // 2, width // 2)
        return i420, [i420[:height], chroma[0], chroma[1]]

    def write(self, frame: np.ndarray) -> None:
        self._writer.write(cv2.cvtColor(frame, cv2.COLOR_YUV2BGR_I420))

    def release(self) -> None:
        self._writer.release()


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
            self._writer = _OpenCVMPEG4(path, self.size, fps)
        self._queue: queue.Queue = queue.Queue(maxsize=max_queued)
        self._error: BaseException | None = None
        self.frames_written = 0
        self._labels: dict[str, np.ndarray] = {}
        self._thread = threading.Thread(target=self._run, name="annotate", daemon=True)
        self._thread.start()
        text_scale = max(self.size[1], 240) / 480.0  # of the output
        self._font_scale, self._thickness = 0.8 * text_scale, max(1, round(2 * text_scale))

    def put(self, frames: list[Planes | np.ndarray], texts: list[str] | None = None) -> None:
        """Queues a batch of decoded frames (4:2:0 ``Planes`` or BGR, grey, BGRA arrays) and the
        text to draw on each (None: no text)."""
        if self._error is not None:
            raise self._error
        self._queue.put((frames, texts or [None] * len(frames)))

    def _fill(self, planes: list[np.ndarray], frame: Planes | np.ndarray) -> None:
        """Writes ``frame`` at the output size into the output's Y, U, V ``planes``."""
        width, height = self.size
        fits = isinstance(frame, Planes) and (self.scale != 1 or frame.y.shape == (height, width))
        if fits and not frame.full_range:  # the decoder's planes as they are (resized when scaled)
            for target, source in zip(planes, (frame.y, frame.u, frame.v)):
                if source.shape != target.shape:
                    source = cv2.resize(source, target.shape[::-1], interpolation=cv2.INTER_AREA)
                np.copyto(target, source)
            return
        frame = to_bgr(frame)  # BGR input, or (rare) planes of odd size or full range: through BGR
        if frame.ndim == 2 or frame.shape[2] != 3:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR if frame.ndim == 2 else cv2.COLOR_BGRA2BGR)
        if self.scale != 1:
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        elif frame.shape[:2] != (height, width):
            pad_bottom, pad_right = height - frame.shape[0], width - frame.shape[1]
            frame = cv2.copyMakeBorder(frame, 0, pad_bottom, 0, pad_right, cv2.BORDER_REPLICATE)
        i420 = cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420)
        chroma = i420[height:].reshape(2, height // 2, width // 2)
        for target, source in zip(planes, (i420[:height], chroma[0], chroma[1])):
            np.copyto(target, source)

    def _label(self, text: str) -> np.ndarray:
        """The label as a Y patch (white text in a black box), drawn once per distinct text: the
        scores have two decimals, so a video repeats a few hundred texts (drawing one with
        anti-aliasing costs about as much as copying the frame's planes)."""
        patch = self._labels.get(text)
        if patch is None:
            font = cv2.FONT_HERSHEY_SIMPLEX
            (text_width, text_height), baseline = cv2.getTextSize(text, font, self._font_scale, self._thickness)
            margin = max(2, text_height // 3)
            patch = np.full((text_height + baseline + 2 * margin, text_width + 2 * margin), BLACK, np.uint8)
            org = (margin, text_height + margin)
            cv2.putText(patch, text, org, font, self._font_scale, WHITE, self._thickness, cv2.LINE_AA)
            if len(self._labels) >= MAX_LABELS:
                self._labels.clear()
            self._labels[text] = patch
        return patch

    def _draw(self, planes: list[np.ndarray], text: str) -> None:
        """The label at the top left, on Y; chroma made neutral under it (black and white in 4:2:0)."""
        y, u, v = planes
        patch = self._label(text)
        height, width = min(patch.shape[0], y.shape[0]), min(patch.shape[1], y.shape[1])
        y[:height, :width] = patch[:height, :width]
        u[: (height + 1) // 2, : (width + 1) // 2] = NEUTRAL
        v[: (height + 1) // 2, : (width + 1) // 2] = NEUTRAL

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is not None:
                continue  # keep draining so the producer never blocks
            try:
                for frame, text in zip(*item):
                    output, planes = self._writer.new_frame()
                    self._fill(planes, frame)
                    if text is not None:
                        self._draw(planes, text)
                    self._writer.write(output)
                    self.frames_written += 1
            except BaseException as error:  # re-raised in the main thread
                self._error = error

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._writer.release()
        if self._error is not None:
            raise self._error
