"""Matplotlib for the project's pictures: headless (Agg), and with CJK glyphs, so that Chinese file names,
class names (a folder ``猫/``, a label ``正面``) and titles render as Chinese, not as empty boxes.

Latin text stays in Matplotlib's DejaVu Sans; a glyph it lacks falls back (Matplotlib >= 3.6) to Noto
Sans CJK SC, the OpenType font the ``mplfonts`` package carries (pinned in requirements.txt). The font
file is read from that package's folder without importing it (its import would install fonts into
Matplotlib's own data folder); without the package, figures still render, CJK as boxes.

    from common.plotting import pyplot
"""

from __future__ import annotations

import importlib.util
import pathlib

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI

from matplotlib import font_manager, pyplot  # noqa: E402

CJK_FONT = "Noto Sans CJK SC"
CJK_FONT_FILE = "NotoSansCJKsc-Regular.otf"

__all__ = ["pyplot", "cjk_font_file"]


def cjk_font_file() -> pathlib.Path | None:
    """The CJK font in the installed ``mplfonts`` package, or None when it is not installed."""
    spec = importlib.util.find_spec("mplfonts")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = pathlib.Path(folder) / "fonts" / CJK_FONT_FILE
        if path.is_file():
            return path
    return None


def _use_cjk_fallback() -> None:
    path = cjk_font_file()
    if path is None:
        return
    font_manager.fontManager.addfont(str(path))
    matplotlib.rcParams["font.family"] = ["DejaVu Sans", CJK_FONT]


_use_cjk_fallback()
