"""``OUT/index.html``: a page to watch classify-video's result, offline (one file, no network).

The video plays with the current frame's label and score beside it, looked up in the per-frame data
(frames.csv, embedded in the page, not burnt into the pixels) as the video plays or seeks; under it
the probability of each class over time, drawn on a canvas with a cursor at the current time
(clicking it seeks); and the label segments as a list whose entries seek to their first frame.

Which video it plays (``video_source``): the source file itself, by a path relative to the page and
never copied, when browsers play its codec and container (H.264, VP8, VP9 or AV1 in MP4 or WebM);
otherwise a small H.264 preview that classify-video writes while it runs (``preview.mp4``), or, where
no browser-playable encoder is installed (PyAV with libx264), none, and the page says so. A live
source has no file to play: the page shows the timeline and segments only.
"""

from __future__ import annotations

import csv
import html
import json
import os
import pathlib
import urllib.parse

import numpy as np

BROWSER_CODECS = {"avc1", "avc3", "h264", "x264", "vp08", "vp80", "vp09", "vp90", "av01"}
BROWSER_CONTAINERS = {".mp4", ".m4v", ".webm"}
PREVIEW_WIDTH = 480  # the preview's width at most (its height follows)


def browser_plays(path: str | os.PathLike, codec: str) -> bool:
    """Whether Chromium/Firefox/Safari play this file as it is (codec as OpenCV's FOURCC names it)."""
    return codec.lower() in BROWSER_CODECS and pathlib.Path(path).suffix.lower() in BROWSER_CONTAINERS


def relative_url(target: str | os.PathLike, page_dir: str | os.PathLike) -> str:
    """``target`` as a URL relative to the page's folder (so the output folder can move with its video)."""
    relative = os.path.relpath(pathlib.Path(target).resolve(), pathlib.Path(page_dir).resolve())
    return urllib.parse.quote(pathlib.PurePath(relative).as_posix())


def _frames_data(frames_csv: pathlib.Path, class_names: list[str]) -> dict:
    """Per frame: time (ms), label index, score (x1000), read back from frames.csv."""
    index = {name: number for number, name in enumerate(class_names)}
    times, labels, scores = [], [], []
    with open(frames_csv, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            times.append(round(float(row["time_s"]) * 1000))
            labels.append(index.get(row["label"], -1))
            scores.append(round(float(row["score"]) * 1000))
    return {"t_ms": times, "label": labels, "score": scores}


def write_page(
    out: pathlib.Path,
    title: str,
    class_names: list[str],
    segments: list[dict],
    timeline_times: list[float],
    timeline_values: np.ndarray,
    video_src: str | None,
    note: str = "",
    details: str = "",
) -> pathlib.Path:
    """Writes ``out/index.html`` from ``out/frames.csv`` and the run's segments and timeline."""
    data = {
        "classes": class_names,
        "frames": _frames_data(out / "frames.csv", class_names),
        "timeline": {
            "t": [round(t, 3) for t in timeline_times],
            "p": np.round(np.asarray(timeline_values).reshape(-1, len(class_names)).T, 3).tolist(),
        },
        "segments": [[segment["label"], segment["first_frame"], segment["last_frame"]] for segment in segments],
    }
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    video = (
        f'<video id="video" controls muted preload="auto" src="{html.escape(video_src)}"></video>'
        if video_src
        else '<div id="video" class="novideo">no video to play here</div>'
    )
    page = _PAGE.format(
        title=html.escape(title),
        details=html.escape(details),
        video=video,
        note=f'<p id="note">{html.escape(note)}</p>' if note else "",
        data=payload,
    )
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; max-width: 1100px; color: #222; }}
#player {{ display: flex; gap: 1.5em; align-items: flex-start; flex-wrap: wrap; }}
video, .novideo {{ max-width: 720px; width: 100%; background: #000; }}
.novideo {{ color: #ccc; padding: 3em 1em; text-align: center; }}
#now {{ font-size: 1.6em; min-width: 12em; }}
#label {{ font-weight: bold; }}
#timeline {{ width: 100%; height: 220px; border: 1px solid #ccc; cursor: pointer; }}
#segments {{ max-height: 24em; overflow-y: auto; }}
#segments li.current {{ background: #ffe9a8; }}
#legend span {{ margin-right: 1em; white-space: nowrap; }}
</style></head>
<body>
<h1>{title}</h1>
<p>{details}</p>
<div id="player">{video}
<div id="now">frame <span id="frame">0</span><br><span id="label"></span> <span id="score"></span></div></div>
{note}
<h2>Probabilities over time</h2>
<canvas id="timeline" width="1100" height="220"></canvas>
<div id="legend"></div>
<h2>Label segments</h2>
<ol id="segments"></ol>
<script id="data" type="application/json">{data}</script>
<script>
"use strict";
const DATA = JSON.parse(document.getElementById("data").textContent);
const F = DATA.frames, T = DATA.timeline, video = document.getElementById("video");
const playable = video.tagName === "VIDEO";
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                "#bcbd22", "#17becf"];
const period = F.t_ms.length > 1 ? (F.t_ms[F.t_ms.length - 1] - F.t_ms[0]) / (F.t_ms.length - 1) : 40;
const duration = Math.max(F.t_ms.length ? F.t_ms[F.t_ms.length - 1] / 1000 + period / 1000 : 1, 1e-3);
let cursor = 0;  // seconds

function frameAt(seconds) {{  // the last frame shown at or before this time
  const ms = seconds * 1000 + period / 4;
  let lo = 0, hi = F.t_ms.length - 1;
  while (lo < hi) {{ const mid = (lo + hi + 1) >> 1; if (F.t_ms[mid] <= ms) lo = mid; else hi = mid - 1; }}
  return lo;
}}
const segmentItems = [];
function show(seconds) {{
  cursor = seconds;
  const i = frameAt(seconds);
  document.getElementById("frame").textContent = i;
  document.getElementById("label").textContent = DATA.classes[F.label[i]] || "";
  document.getElementById("score").textContent = (F.score[i] / 1000).toFixed(2);
  segmentItems.forEach(([item, first, last]) => item.classList.toggle("current", first <= i && i <= last));
  drawTimeline();
}}
function seek(seconds) {{  // half a frame in: the browser shows the frame that starts there, not the one before
  if (playable) video.currentTime = seconds + period / 2000; else show(seconds);
}}
const canvas = document.getElementById("timeline"), context = canvas.getContext("2d");
function drawTimeline() {{
  const w = canvas.width, h = canvas.height, pad = 6;
  context.clearRect(0, 0, w, h);
  T.p.forEach((values, c) => {{
    context.strokeStyle = COLORS[c % COLORS.length];
    context.beginPath();
    values.forEach((p, k) => {{
      const x = T.t[k] / duration * w, y = h - pad - p * (h - 2 * pad);
      if (k) context.lineTo(x, y); else context.moveTo(x, y);
    }});
    context.stroke();
  }});
  const x = cursor / duration * w;
  context.strokeStyle = "#000"; context.lineWidth = 2;
  context.beginPath(); context.moveTo(x, 0); context.lineTo(x, h); context.stroke(); context.lineWidth = 1;
}}
canvas.addEventListener("click", (event) => {{
  const box = canvas.getBoundingClientRect();
  seek((event.clientX - box.left) / box.width * duration);
}});
document.getElementById("legend").innerHTML = DATA.classes.map((name, c) =>
  `<span style="color:${{COLORS[c % COLORS.length]}}">&#9632;</span><span>${{name}}</span>`).join(" ");
const list = document.getElementById("segments");
DATA.segments.forEach(([label, first, last], k) => {{
  const item = document.createElement("li"), link = document.createElement("a");
  const start = F.t_ms[first] / 1000, end = F.t_ms[last] / 1000;
  link.href = "#"; link.className = "segment"; link.dataset.start = start; link.dataset.label = label;
  link.textContent = `${{label}}: frames ${{first}}-${{last}} (${{start.toFixed(2)}}-${{end.toFixed(2)}} s)`;
  link.addEventListener("click", (event) => {{ event.preventDefault(); seek(start); }});
  item.appendChild(link); list.appendChild(item); segmentItems.push([item, first, last]);
}});
if (playable) {{
  const follow = () => show(video.currentTime);
  ["timeupdate", "seeked", "loadeddata"].forEach((name) => video.addEventListener(name, follow));
  if (video.requestVideoFrameCallback) {{
    const onFrame = (now, meta) => {{ show(meta.mediaTime); video.requestVideoFrameCallback(onFrame); }};
    video.requestVideoFrameCallback(onFrame);
  }}
}}
show(0);
</script>
</body></html>
"""
