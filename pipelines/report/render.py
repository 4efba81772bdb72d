"""Writes the sections as a static HTML page and as Markdown, with the same figures.

Figures are files beside the report (``figures/*.png``); links to run folders are relative, so the
report folder and ``runs/`` can move together. No script, stylesheet or font is loaded from the
network.
"""

from __future__ import annotations

import html
import os
import pathlib
import re

from pipelines.report.content import Section, Table

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 980px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #444; }
.verdict { padding: 0.5em 0.8em; border-radius: 4px; background: #f3f3f3; }
.supported { background: #e6f4e6; } .not-supported { background: #fbe7e7; } .partly-supported { background: #fdf5dc; }
.inconclusive { background: #eef0f7; }
.claim { font-style: italic; } .meta { color: #555; font-size: 0.85em; }
"""


def _relative(target: pathlib.Path, start: pathlib.Path) -> str:
    return pathlib.Path(os.path.relpath(pathlib.Path(target).resolve(), pathlib.Path(start).resolve())).as_posix()


def _inline_html(text: str) -> str:
    """Escapes text and turns **bold** into <strong>."""
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html.escape(text))


def _table_html(table: Table) -> str:
    head = "".join(f"<th>{_inline_html(cell)}</th>" for cell in table.header)
    body = "".join("<tr>" + "".join(f"<td>{_inline_html(c)}</td>" for c in row) + "</tr>" for row in table.rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _table_markdown(table: Table) -> str:
    lines = ["| " + " | ".join(table.header) + " |", "|" + "---|" * len(table.header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in table.rows]
    return "\n".join(lines)


def _verdict_class(verdict: str) -> str:
    return "verdict " + verdict.replace(" ", "-")


def write_html(path: pathlib.Path, header: dict, sections: list[Section]) -> pathlib.Path:
    """Writes ``path``; figure and run links are made relative to its folder."""
    base = path.parent
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(header['title'])}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(header['title'])}</h1>",
        f"<p>{_inline_html(header['intro'])}</p>",
        f"<p class='meta'>{_inline_html(header['meta'])}</p>",
        "<h2>Summary</h2>",
        _table_html(
            Table(
                ["section", "claim", "verdict"],
                [[str(s.number), s.title, s.verdict] for s in sections],
            )
        ),
    ]
    for section in sections:
        parts.append(f"<h2 id='section-{section.number}'>{section.number}. {html.escape(section.title)}</h2>")
        parts.append(f"<p class='claim'>Claim: {_inline_html(section.claim)}</p>")
        parts.append(
            f"<p class='{_verdict_class(section.verdict)}'><strong>Measured: {html.escape(section.verdict)}.</strong> "
            f"{_inline_html(section.verdict_reason)}</p>"
        )
        if section.error:
            parts.append(f"<pre>{html.escape(section.error)}</pre>")
        for block in section.blocks:
            parts.append(_table_html(block) if isinstance(block, Table) else f"<p>{_inline_html(block)}</p>")
        for figure in section.figures:
            parts.append(
                f"<figure><img src='{html.escape(_relative(figure.path, base))}' "
                f"alt='{html.escape(figure.caption[:120])}'>"
                f"<figcaption>{_inline_html(figure.caption)}</figcaption></figure>"
            )
        if section.runs:
            links = ", ".join(
                f"<a href='{html.escape(_relative(run, base))}/'>{html.escape(_display(run))}</a>"
                for run in section.runs
            )
            parts.append(f"<p class='meta'>Run folders: {links}.</p>")
        parts.append(
            f"<p class='meta'>Section run time {section.seconds:.0f} s; 1-minute load average "
            f"{section.load_average[0]:.1f} before, {section.load_average[1]:.1f} after.</p>"
        )
    parts.append("</body></html>")
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return path


def write_markdown(path: pathlib.Path, header: dict, sections: list[Section]) -> pathlib.Path:
    base = path.parent
    lines = [f"# {header['title']}", "", header["intro"], "", f"_{header['meta']}_", "", "## Summary", ""]
    lines.append(
        _table_markdown(Table(["section", "claim", "verdict"], [[str(s.number), s.title, s.verdict] for s in sections]))
    )
    for section in sections:
        lines += ["", f"## {section.number}. {section.title}", "", f"_Claim: {section.claim}_", ""]
        lines += [f"**Measured: {section.verdict}.** {section.verdict_reason}", ""]
        if section.error:
            lines += ["```", section.error, "```", ""]
        for block in section.blocks:
            lines += [_table_markdown(block) if isinstance(block, Table) else block, ""]
        for figure in section.figures:
            lines += [f"![{section.title}]({_relative(figure.path, base)})", "", f"_{figure.caption}_", ""]
        if section.runs:
            links = ", ".join(f"[{_display(run)}]({_relative(run, base)}/)" for run in section.runs)
            lines += [f"Run folders: {links}.", ""]
        lines.append(
            f"Section run time {section.seconds:.0f} s; 1-minute load average {section.load_average[0]:.1f} before, "
            f"{section.load_average[1]:.1f} after."
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _display(run: pathlib.Path) -> str:
    """``image/20260101-120000``: the pipeline folder and the run's timestamp."""
    run = pathlib.Path(run)
    return f"{run.parent.name}/{run.name}"
