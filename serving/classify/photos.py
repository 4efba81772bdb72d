"""Photos for classify-image: found in a folder, checked before anything decodes them, read as their own bytes.

A photo is refused in one line when it is missing, empty, not an image, or larger than
:data:`MAX_PIXELS`: its size is read from the file's header (Pillow opens files lazily), so a
decompression bomb (a 30000x30000 PNG of a few kB) is never decoded. Any other size is classified, a
1x1 pixel included (the model resizes).
"""

from __future__ import annotations

import dataclasses
import pathlib

from PIL import Image

from common import formats
from common.errors import UserError

# The largest photo decoded: 64 megapixels (an 8000x8000 image, 192 MB as RGB), above any camera's.
MAX_PIXELS = 64_000_000


@dataclasses.dataclass(frozen=True)
class Photo:
    """A checked photo: its path, its name under the folder it came from, its size and, when the folder
    has class sub-folders, the class its sub-folder names."""

    path: pathlib.Path
    name: str
    width: int
    height: int
    true_label: str | None = None


def check(path: pathlib.Path, name: str | None = None, true_label: str | None = None) -> Photo:
    """Refuses a missing, empty, unreadable or oversized photo; its header only is read.

    Raises:
        UserError: one line naming the photo and the problem.
    """
    if not path.exists():
        raise UserError(f"{path} does not exist: give a photo (jpg, png, ...) or a folder of photos")
    if path.is_dir():
        raise UserError(f"{path} is a folder: classify it as a folder, not as one photo")
    if path.stat().st_size == 0:
        raise UserError(f"{path} is empty")
    limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # the size is checked below, with the numbers
    try:
        with Image.open(path) as image:  # reads the header only
            width, height = image.size
    except (OSError, ValueError, SyntaxError):
        raise UserError(f"{path} is not an image Pillow can read (JPEG, PNG, BMP, WebP, GIF)") from None
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    if width * height > MAX_PIXELS:
        raise UserError(
            f"{path} is {width}x{height} ({width * height / 1e6:.0f} megapixels), over the "
            f"{MAX_PIXELS // 1_000_000}-megapixel limit: refused, not decoded"
        )
    return Photo(path, name or path.name, width, height, true_label)


def find(folder: pathlib.Path) -> tuple[list[pathlib.Path], dict[pathlib.Path, str] | None]:
    """Every photo under ``folder`` (by extension, sorted) and, when every one sits in a class sub-folder,
    the class of each.

    Raises:
        UserError: the folder holds no photo.
    """
    paths = sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and path.suffix.lower() in formats.IMAGE_EXTENSIONS and not path.name.startswith(".")
    )
    if not paths:
        raise UserError(f"{folder} holds no photos ({', '.join(formats.IMAGE_EXTENSIONS)})")
    classes = {path: path.relative_to(folder).parts[0] for path in paths if len(path.relative_to(folder).parts) > 1}
    return paths, classes if len(classes) == len(paths) and len(set(classes.values())) > 1 else None


def read_bytes(photo: Photo) -> bytes:
    """The photo's own encoded bytes: what the ``encoded`` signature decodes (here or in TF Serving)."""
    return photo.path.read_bytes()
