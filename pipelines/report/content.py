"""What a report section holds: a claim, its verdict, text, tables, figures and the runs behind them.

Sections are plain data so that the same content renders to HTML and to Markdown
(:mod:`pipelines.report.render`) without a Markdown library.
"""

from __future__ import annotations

import dataclasses
import pathlib


@dataclasses.dataclass
class Table:
    header: list[str]
    rows: list[list[str]]


@dataclasses.dataclass
class Figure:
    """An image file in the report's ``figures/`` folder and the caption that states how it was made."""

    path: pathlib.Path
    caption: str


@dataclasses.dataclass
class Section:
    """One claim with its measurement and pictures.

    ``verdict`` is ``supported``, ``partly supported``, ``not supported`` or ``not measured``;
    ``blocks`` are paragraphs (str) and tables in reading order; ``runs`` are the run folders every
    number comes from (linked from the report).
    """

    number: int
    title: str
    claim: str
    verdict: str = "not measured"
    verdict_reason: str = ""
    blocks: list[str | Table] = dataclasses.field(default_factory=list)
    figures: list[Figure] = dataclasses.field(default_factory=list)
    runs: list[pathlib.Path] = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    load_average: tuple[float, float] = (0.0, 0.0)
    error: str = ""


TITLES = {
    1: (
        "Convolution finds local patterns, deeper layers combine them",
        "Small filters respond to local patterns (edges, colour blobs) wherever they occur; each block sees a "
        "larger patch of the image and combines the previous block's responses into more specific ones.",
    ),
    2: (
        "Pooling makes the model less sensitive to position",
        "A CNN with max pooling keeps its accuracy better than the same CNN without pooling (strided "
        "convolutions, same parameters) when the objects move away from where they were during training.",
    ),
    3: (
        "An RNN carries memory; LSTM and GRU keep it over long distances",
        "Recurrent models can answer from a token seen many steps earlier; a SimpleRNN loses it as the distance "
        "grows, while the gated LSTM and GRU keep it.",
    ),
    4: (
        "GRU is lighter than LSTM",
        "At the same width a GRU has three gate blocks to an LSTM's four: about 3/4 of the recurrent parameters, "
        "and less time per training and inference step.",
    ),
    5: (
        "CNN per frame + RNN across frames understands motion",
        "A single frame cannot tell which way a shape moves; the CNN+RNN hybrid, which carries state across "
        "frames, classifies motion where the frame-only CNN cannot.",
    ),
}


def new_section(number: int) -> Section:
    title, claim = TITLES[number]
    return Section(number=number, title=title, claim=claim)
