"""Opens a classify-video page (``serving.classify.video_page``) in headless Chromium with no network and uses it.

    python -m serving.classify.video_page_check runs/classify/clip/index.html

The page is loaded into an iframe of a wrapper page (:mod:`common.browser`: the same browser, flags
and no-network rules as the report's check). The wrapper waits for the
video to load, then clicks each label segment in the list (the first ``MAX_SEGMENTS``) and, once the
video has seeked, reads the label the page shows; it also lists every network request the page
made. Problems: the video does not load (or the page has none, unless it says why), a segment
shows another label than its own, or the page fetched anything over the network.
"""

from __future__ import annotations

import dataclasses
import pathlib
import sys
from collections.abc import Sequence

from common import browser as browser_lib
from common import cli
from common.errors import UserError

MAX_SEGMENTS = 6

_FRAME_STYLE = 'frame.style.width = "1200px"; frame.style.height = "900px";'
# Waits for the video to load, clicks each label segment (the first MAX_SEGMENTS) and, once the video has
# seeked, reads the label the page shows. Virtual time runs ahead while the browser waits on its media
# threads, so a plain timeout fires at once; each poll also spins ~2 ms of real time, so a wait of N
# polls lasts at least N * 2 ms for real.
_INSPECT = """
  const spin = () => { let x = 0; for (let k = 0; k < 2e6; k++) x += k % 7; return x; };
  const wait = (target, names, polls) => new Promise((resolve) => {
    let happened = null;
    names.forEach((name) => target.addEventListener(name, () => { happened = happened || name; }, {once: true}));
    let count = 0;
    const poll = () => {
      if (happened || ++count > polls) { resolve(happened || "timeout"); return; }
      spin();
      setTimeout(poll, 10);
    };
    setTimeout(poll, 0);
  });
  const video = doc.querySelector("video");
  const note = doc.getElementById("note");
  const result = {video: !!video, note: note ? note.textContent : "", segments: []};
  if (video) {
    result.loaded = video.readyState >= 2
      || (!video.error && (await wait(video, ["loadeddata", "error"], 5000)) === "loadeddata");
    result.media_error = video.error ? video.error.code : null;
    result.duration = video.duration;
    result.width = video.videoWidth;
  }
  for (const link of Array.from(doc.querySelectorAll("#segments a.segment")).slice(0, MAX_SEGMENTS)) {
    const seeked = !video ? Promise.resolve("seeked") : result.loaded ? wait(video, ["seeked"], 2500)
      : Promise.resolve("not loaded");
    link.click();
    const how = await seeked;
    await new Promise((resolve) => setTimeout(resolve, 50));
    result.segments.push({expected: link.dataset.label, shown: doc.getElementById("label").textContent,
                          frame: Number(doc.getElementById("frame").textContent), seeked: how === "seeked",
                          time: video ? video.currentTime : null});
  }
  return result;
""".replace("MAX_SEGMENTS", str(MAX_SEGMENTS))


@dataclasses.dataclass
class PageResult:
    page: pathlib.Path
    has_video: bool
    loaded: bool
    note: str
    segments: list[dict]  # {expected, shown, frame, seeked, time} per segment clicked
    network: list[str]

    @property
    def problems(self) -> list[str]:
        problems = []
        if self.has_video and not self.loaded:
            problems.append("the video did not load")
        if not self.has_video and not self.note:
            problems.append("no video and no note saying why")
        for segment in self.segments:
            if not segment["seeked"]:
                problems.append(f"segment at frame {segment['frame']}: the video did not seek")
            elif segment["shown"] != segment["expected"]:
                problems.append(
                    f"segment '{segment['expected']}' shows '{segment['shown']}' (frame {segment['frame']})"
                )
        if not self.segments:
            problems.append("no label segments listed")
        problems += [f"network request {url}" for url in self.network]
        return problems


def check_page(page: pathlib.Path, timeout: float = 60, browser: str | None = None) -> PageResult:
    """Loads ``page`` in headless Chromium, seeks to its segments and reports (UserError: no browser)."""
    page = pathlib.Path(page).resolve()
    if not page.is_file():
        raise UserError(f"{page} does not exist; run classify-video first")
    browser = browser or browser_lib.find_browser()
    if browser is None:
        raise UserError(f"no browser to check the page in; {browser_lib.INSTALL_HINT}")
    wrapper = browser_lib.wrapper_page(page, _INSPECT, _FRAME_STYLE)
    # The polls (10 virtual ms each; see _INSPECT) need a budget well above the report's.
    found = browser_lib.run_wrapper(browser, page, wrapper, timeout, virtual_time_ms=600_000)
    return PageResult(
        page=page,
        has_video=found["video"],
        loaded=bool(found.get("loaded")),
        note=found["note"],
        segments=found["segments"],
        network=found["network"],
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.ArgumentParser(prog="python -m serving.classify.video_page_check", description=__doc__.splitlines()[0])
    parser.add_argument("page", type=pathlib.Path, help="a classify-video page, e.g. runs/classify/clip/index.html")
    args = parser.parse_args(argv)
    result = check_page(args.page)
    if result.problems:
        raise UserError(f"{result.page}: " + "; ".join(result.problems))
    video = "video loaded" if result.has_video else f"no video ({result.note})"
    print(f"{result.page}: {video}, {len(result.segments)} segment(s) seek to their label, no network requests")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
