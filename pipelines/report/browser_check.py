"""Opens a report page in headless Chromium with no network and checks what a reader would see.

python -m pipelines.report.browser_check runs/report/index.html [--heading "1. ..."]

The page is loaded by :mod:`common.browser`'s wrapper, which reads the page's DOM once every image
has loaded or failed: every ``<img>`` must be complete with ``naturalWidth > 0`` (loaded and
decoded; a missing or corrupt file has width 0), the page must have its ``<h2>`` headings, and it
must make no network request. A truncated PNG whose header is intact is drawn partially by the
browser and passes.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import sys
import time
from collections.abc import Sequence

from common import browser as browser_lib
from common import cli
from common.errors import UserError

# Every <img>, whether it loaded and decoded, and the text of every <h2>.
_INSPECT = """
  const images = Array.from(doc.images, (img) => (
    {src: img.getAttribute("src") || img.currentSrc, loaded: img.complete && img.naturalWidth > 0}));
  const headings = Array.from(doc.querySelectorAll("h2"), (h) => h.textContent.trim());
  return {images, headings};
"""


@dataclasses.dataclass
class BrowserResult:
    """What the browser saw on one page; ``problems`` is empty when the page is fine."""

    page: pathlib.Path
    browser: str
    images: list[str]
    broken: list[str]  # images that did not load or could not be decoded
    headings: list[str]  # the text of every <h2>
    missing_headings: list[str]
    network: list[str]  # URLs the page fetched or tried to fetch over the network
    seconds: float

    @property
    def problems(self) -> list[str]:
        problems = [f"broken image {src}" for src in self.broken]
        problems += [f"missing heading '{heading}'" for heading in self.missing_headings]
        if not self.headings:
            problems.append("no <h2> headings")
        problems += [f"network request {url}" for url in self.network]
        return problems

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """One line, e.g. ``checked in headless Chromium: 14 figures loaded, 0 broken, no network requests``."""
        network = _count(len(self.network), "network request") if self.network else "no network requests"
        line = (
            f"checked in headless {browser_lib.display_name(self.browser)}: "
            f"{_count(len(self.images) - len(self.broken), 'figure')} loaded, {len(self.broken)} broken, "
            f"{_count(len(self.headings), 'heading')}, {network}"
        )
        return line if self.ok else f"{line}; {self.page}: " + "; ".join(self.problems)


def check_in_browser(
    page: pathlib.Path, timeout: float = 60, headings: Sequence[str] = (), browser: str | None = None
) -> BrowserResult:
    """Opens ``page`` in headless Chromium without network and reports its images, headings and requests.

    ``headings`` are texts that must each occur in some ``<h2>``. Raises UserError when no browser
    is found, the page does not exist, or the browser fails, hangs past ``timeout`` seconds (it is
    killed) or reports nothing.
    """
    page = pathlib.Path(page).resolve()
    if not page.is_file():
        raise UserError(f"{page} does not exist; write the report first (make report)")
    browser = browser or browser_lib.find_browser()
    if browser is None:
        override = os.environ.get(browser_lib.BROWSER_ENV, "").strip()
        where = (
            f"{browser_lib.BROWSER_ENV}={override} is not an executable"
            if override
            else f"none of {', '.join(browser_lib.BROWSERS)}"
        )
        raise UserError(f"no browser to check the report in ({where}); {browser_lib.INSTALL_HINT}")
    started = time.perf_counter()
    found = browser_lib.run_wrapper(browser, page, browser_lib.wrapper_page(page, _INSPECT), timeout)
    return BrowserResult(
        page=page,
        browser=browser,
        images=[image["src"] for image in found["images"]],
        broken=[image["src"] for image in found["images"] if not image["loaded"]],
        headings=found["headings"],
        missing_headings=[h for h in headings if not any(h in text for text in found["headings"])],
        network=found["network"],
        seconds=time.perf_counter() - started,
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.ArgumentParser(prog="python -m pipelines.report.browser_check", description=__doc__.splitlines()[0])
    parser.add_argument("page", type=pathlib.Path, help="the report page, e.g. runs/report/index.html")
    parser.add_argument("--heading", action="append", default=[], help="an <h2> text the page must have (repeatable)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds before the browser is killed")
    args = parser.parse_args(argv)
    result = check_in_browser(args.page, timeout=args.timeout, headings=args.heading)
    if not result.ok:
        raise UserError(f"{result.page}: " + "; ".join(result.problems))
    print(result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
