"""Decode each video file once per (frame size, stride) into an on-disk cache, so later epochs decode nothing.

Decoding is what real video files cost: a 640x360 H.264 clip decodes at about 1,700 frames/s here,
while the small CNN trains on tens of thousands of 32x32 frames a second. Each file is decoded
once, every ``stride``-th frame resized to ``size`` x ``size`` RGB with the exported model's own resize,
and kept as ``<cache>/<content hash>-<size>-<stride>.npy``: the key changes when the file's
content or the settings do. The cache is bounded (``max_bytes``): least recently used entries are
evicted, and a file that does not fit is decoded on the fly each time instead
(:func:`pipelines.datasets.video_files.read_clip`). Files that cannot be decoded are remembered
as such (a ``.bad`` marker) so they are not tried again.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import logging
import os
import pathlib
import threading

import numpy as np
import tqdm

from pipelines.datasets import tfds_source, video_files

DEFAULT_DIR = tfds_source.PROJECT_ROOT / "data" / "video_cache"
FORMAT_VERSION = 2  # 2: TensorFlow's anti-aliased resize, as the model applies


def content_hash(path: pathlib.Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as file:
        while chunk := file.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


class FrameCache:
    """``cache.load(paths)`` → per file a (frames, size, size, 3) uint8 array (memory-mapped) or None."""

    def __init__(self, size: int, stride: int, directory: str | pathlib.Path = "", max_bytes: int = 4 << 30):
        self.size, self.stride, self.max_bytes = size, stride, max_bytes
        self.directory = pathlib.Path(directory or os.environ.get("VIDEO_CACHE_DIR", DEFAULT_DIR))
        self._lock = threading.Lock()
        self._writing = 0  # bytes of entries being written by this cache's threads

    def _entry(self, digest: str) -> pathlib.Path:
        return self.directory / f"{digest}-{self.size}-{self.stride}-v{FORMAT_VERSION}.npy"

    def _used_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.directory.glob("*.npy"))

    def _make_room(self, needed: int, keep: set[pathlib.Path]) -> bool:
        """Evicts least recently used entries (not in ``keep``) until ``needed`` more bytes fit."""
        entries = sorted(self.directory.glob("*.npy"), key=lambda p: p.stat().st_mtime)
        used = sum(p.stat().st_size for p in entries) + self._writing  # files being written count too
        for entry in entries:
            if used + needed <= self.max_bytes:
                break
            if entry not in keep:
                used -= entry.stat().st_size
                entry.unlink(missing_ok=True)
        return used + needed <= self.max_bytes

    def _load_one(self, path: pathlib.Path, keep: set[pathlib.Path]) -> tuple[np.ndarray | None, int, bool]:
        """(array or None, frames, was it decoded now)."""
        digest = content_hash(path)
        entry, bad = self._entry(digest), self._entry(digest).with_suffix(".bad")
        if bad.exists():
            return None, 0, False
        if entry.exists():
            os.utime(entry)
            with self._lock:
                keep.add(entry)
            return np.load(entry, mmap_mode="r"), 0, False
        frames = video_files.decode_video(str(path), self.size, self.stride)
        if not len(frames):
            bad.touch()
            return None, 0, True
        needed = frames.nbytes + 128
        with self._lock:
            fits = self._make_room(needed, keep)
            if fits:
                keep.add(entry)
                self._writing += needed  # reserved: another thread's room is made around it
        if not fits:
            return None, len(frames), True  # decoded on the fly from now on
        temporary = entry.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            with open(temporary, "wb") as file:
                np.save(file, frames)
            os.replace(temporary, entry)
        finally:
            with self._lock:
                self._writing -= needed
        return np.load(entry, mmap_mode="r"), len(frames), True

    def load(self, paths: list[pathlib.Path]) -> tuple[list[np.ndarray | None], np.ndarray]:
        """Cached frames per file (None: unreadable or over the cache bound) and each file's frame count.

        A frame count of 0 means the file cannot be decoded.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        keep: set[pathlib.Path] = set()
        workers = max(1, min(8, os.cpu_count() or 2))
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            futures = [pool.submit(self._load_one, pathlib.Path(p), keep) for p in paths]
            results = [
                future.result()
                for future in tqdm.tqdm(
                    futures, desc=f"decoding videos (cached in {self.directory})", unit="file", leave=False
                )
            ]
        arrays = [array for array, _, _ in results]
        counts = np.asarray([len(a) if a is not None else n for a, n, _ in results], np.int64)
        decoded = sum(1 for _, _, now in results if now)
        over = sum(1 for a, n, _ in results if a is None and n > 0)
        logging.info(
            "frame cache %s: %d of %d file(s) decoded now, %d read from the cache%s",
            self.directory,
            decoded,
            len(paths),
            len(paths) - decoded,
            f", {over} over the {self.max_bytes >> 20} MiB bound (decoded on the fly)" if over else "",
        )
        return arrays, counts
