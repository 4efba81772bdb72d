"""classify-video over a folder: ``make classify-video VIDEO=recordings/`` (``serving.classify.video``).

Every video file under the folder (recursively, by extension, in sorted order) is classified with
one model load; while one file is classified the next one is opened and starts decoding
(``VideoReader.start``: its first chunks wait in its queue), so the model does not wait at file
boundaries. Outputs: ``OUT/<file stem>/`` per video, as for a single file (the stem with its
extension appended where two files share one, sub-folders kept), plus ``OUT/index.csv`` (file,
frames, fps achieved, main label, segments, error) and ``OUT/index.html`` linking each video's page.

A file that fails (not a video, no frames, ...) is reported on one line, counted, and the others go
on; the exit status is 1 when any failed, 0 when none did. SIGINT/SIGTERM end the file being
classified cleanly (its outputs cover the frames done) and the run with it; the index lists the
files done. A folder that does not hold a single video file is bad input (exit 2), before the model
loads. The last line gives the rate over the whole folder: frames / seconds from the first file
opened to the last one's outputs written (start-up and the model load left out), as the library
job (``serving.classify.library``) reports it.
"""

from __future__ import annotations

import argparse
import csv
import html
import pathlib
import sys
import time

from common import formats
from common.errors import UserError
from serving.classify import runner
from serving.classify.outputs import Segments

# index.csv's columns, here and in the library job (serving.classify.library): one row per video.
INDEX_COLUMNS = ["file", "frames", "fps", "main_label", "segments", "error"]


def index_row(file: str, summary: dict | None, error: str = "") -> dict:
    """A video's index.csv row from its summary (None, with ``error``, for a video that failed)."""
    if summary is None:
        return {"file": file, "frames": 0, "fps": "", "main_label": "", "segments": 0, "error": error}
    segments = Segments()
    segments.items = summary["segments"]
    return {
        "file": file,
        "frames": summary["video"]["frames"],
        "fps": summary["frames_per_second"],
        "main_label": segments.main_label(),
        "segments": len(summary["segments"]),
        "error": error,
    }


def find_videos(folder: pathlib.Path) -> list[pathlib.Path]:
    """Every video file under ``folder`` by extension, sorted; UserError when there is none."""
    files = sorted(path for path in folder.rglob("*") if path.is_file() and not path.name.startswith("."))
    if not files:
        raise UserError(f"{folder} is empty; give a folder that holds video files")
    videos = [path for path in files if path.suffix.lower() in formats.VIDEO_EXTENSIONS]
    if not videos:
        suffixes = ", ".join(sorted(formats.VIDEO_EXTENSIONS))
        raise UserError(f"{folder} holds {len(files)} file(s) but no videos (looked for {suffixes})")
    return videos


def output_names(folder: pathlib.Path, videos: list[pathlib.Path]) -> list[pathlib.PurePath]:
    """One sub-folder per video: its path under ``folder`` without the extension (kept on a clash)."""
    stems = [video.relative_to(folder).with_suffix("") for video in videos]
    clashes = {stem for stem in stems if stems.count(stem) > 1}
    return [
        stem.with_name(f"{stem.name}_{video.suffix.lstrip('.')}") if stem in clashes else stem
        for stem, video in zip(stems, videos)
    ]


def run(args: argparse.Namespace) -> int:
    """Classifies every video under ``args.video``; returns the exit status (1 if any file failed)."""
    runner.check_args(args)
    folder = pathlib.Path(args.video)
    videos = find_videos(folder)
    out = pathlib.Path(args.out) if args.out else runner.default_out(str(folder))
    out.mkdir(parents=True, exist_ok=True)
    print(f"{folder}: {len(videos)} video(s)", flush=True)
    classifier = runner.make_classifier(args)
    classifier.warm_up(args.batch_size)

    def open_reader(video):
        try:
            reader = runner.open_file(args, video, classifier.image_size)
            reader.start()  # decodes ahead while the previous file is classified
            return reader
        except UserError as error:
            return error

    results, failed = [], 0
    started = time.perf_counter()  # the rate over the whole folder leaves out start-up and the model load
    upcoming = open_reader(videos[0])
    for index, (video, name) in enumerate(zip(videos, output_names(folder, videos))):
        reader, upcoming = upcoming, open_reader(videos[index + 1]) if index + 1 < len(videos) else None
        file = str(video.relative_to(folder))
        try:
            if isinstance(reader, UserError):
                raise reader
            summary = runner.run_source(args, classifier, reader, out / name, video)
        except UserError as error:
            failed += 1
            print(f"error: {video}: {error}", file=sys.stderr, flush=True)
            results.append({**index_row(file, None, str(error)), "page": ""})
            continue
        results.append({**index_row(file, summary), "page": (pathlib.PurePath(name) / "index.html").as_posix()})
        main_label = results[-1]["main_label"]
        frames, fps = summary["video"]["frames"], summary["frames_per_second"]
        print(f"{video} -> {out / name}: {frames} frames, {fps:.1f} frames/s, mostly {main_label}", flush=True)
        if summary["stopped_by"]:  # Ctrl-C / SIGTERM: the files not started are left out of the index
            if upcoming is not None and not isinstance(upcoming, UserError):
                upcoming.close()
            break
    write_index(out, folder, results)
    done, elapsed = len(results) - failed, time.perf_counter() - started
    frames = sum(int(result["frames"]) for result in results)
    print(
        f"{done} of {len(videos)} video(s) classified"
        + (f", {failed} failed" if failed else "")
        + f": {frames:,} frames in {elapsed:.1f} s, {frames / elapsed:,.1f} frames/s"
    )
    print(f"outputs: {out} (index.csv, index.html)")
    return 1 if failed else 0


def write_index(out: pathlib.Path, folder: pathlib.Path, results: list[dict]) -> None:
    with open(out / "index.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=INDEX_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(results)
    rows = []
    for result in results:
        name = html.escape(result["file"])
        link = f'<a href="{html.escape(result["page"])}">{name}</a>' if result["page"] else name
        cells = [html.escape(str(result[key])) for key in ("frames", "fps", "main_label", "segments", "error")]
        rows.append(f"<tr><td>{link}</td>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(folder.name)}: classify-video</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:1.5em}td,th{padding:.2em .8em;text-align:left}"
        "tr:nth-child(even){background:#f4f4f4}</style></head><body>"
        f"<h1>{html.escape(str(folder))}</h1><p>{len(results)} video(s)</p>"
        "<table><tr><th>file</th><th>frames</th><th>frames/s</th><th>main label</th><th>segments</th>"
        "<th>error</th></tr>" + "".join(rows) + "</table></body></html>\n"
    )
    (out / "index.html").write_text(page, encoding="utf-8")
