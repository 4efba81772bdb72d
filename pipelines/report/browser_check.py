"""Opens a report page in headless Chromium with no network and checks what a reader would see.

python -m pipelines.report.browser_check runs/report/index.html [--heading "1. ..."]

The page is loaded into an iframe of a small wrapper page (in a temporary folder), and the wrapper
reads the page's DOM in the iframe's load event, i.e. after every image has loaded or failed: every
``<img>`` must be complete with ``naturalWidth > 0`` (loaded and decoded; a missing or corrupt file
has width 0), the page must have its ``<h2>`` headings, and the page's resource timing must list
no network request. Host names resolve to nothing (``--host-resolver-rules``), so a page that needs
the network shows broken images, and every request it tries (http, https, also to an IP address) is
listed. The wrapper writes its findings as JSON into its own DOM, which ``--dump-dom`` prints once
the wrapper has loaded (its load event waits for the iframe's), so the result is there without a
wait. A truncated PNG whose header is intact is drawn partially by the browser and passes.

The browser is ``$REPORT_BROWSER`` if set, else the first of chromium, chromium-browser,
google-chrome and google-chrome-stable on PATH (Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

from common import cli
from common.errors import UserError

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSER_ENV = "REPORT_BROWSER"
INSTALL_HINT = "install one with `apt-get install chromium` (Debian/Ubuntu) or set REPORT_BROWSER=/path/to/chrome"

_FLAGS = (
    "--headless",
    "--no-sandbox",  # root in containers and CI; the page is our own file
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--allow-file-access-from-files",  # lets the wrapper read the iframe's file:// document
    "--virtual-time-budget=15000",
    "--dump-dom",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-extensions",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # no network: every host name fails to resolve
)

# Loads the page into an iframe and writes {"images", "headings", "network"} into <pre id="result">.
_WRAPPER = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>browser check</title></head><body><pre id="result"></pre>
<script>
const out = document.getElementById("result");
const frame = document.createElement("iframe");
frame.addEventListener("load", () => {
  try {
    const doc = frame.contentDocument;
    const images = Array.from(doc.images, (img) => (
      {src: img.getAttribute("src") || img.currentSrc, loaded: img.complete && img.naturalWidth > 0}));
    const headings = Array.from(doc.querySelectorAll("h2"), (h) => h.textContent.trim());
    const network = frame.contentWindow.performance.getEntriesByType("resource").map((e) => e.name)
      .filter((url) => !/^(file|data|blob|about):/i.test(url));
    out.textContent = JSON.stringify({images, headings, network});
  } catch (error) {
    out.textContent = JSON.stringify({error: String(error)});
  }
});
frame.src = %(page)s;
document.body.appendChild(frame);
</script></body></html>
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
            f"checked in headless {_display_name(self.browser)}: "
            f"{_count(len(self.images) - len(self.broken), 'figure')} loaded, {len(self.broken)} broken, "
            f"{_count(len(self.headings), 'heading')}, {network}"
        )
        return line if self.ok else f"{line}; {self.page}: " + "; ".join(self.problems)


def find_browser() -> str | None:
    """The browser executable: ``$REPORT_BROWSER`` if set, else the first of BROWSERS on PATH."""
    override = os.environ.get(BROWSER_ENV, "").strip()
    if override:
        return shutil.which(override)
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


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
    browser = browser or find_browser()
    if browser is None:
        override = os.environ.get(BROWSER_ENV, "").strip()
        where = f"{BROWSER_ENV}={override} is not an executable" if override else f"none of {', '.join(BROWSERS)}"
        raise UserError(f"no browser to check the report in ({where}); {INSTALL_HINT}")
    started = time.perf_counter()
    found = run_wrapper(browser, page, _WRAPPER % {"page": json.dumps(page.as_uri())}, timeout)
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


def run_wrapper(
    browser: str, page: pathlib.Path, wrapper_html: str, timeout: float = 60, virtual_time_ms: int | None = None
) -> dict:
    """Opens ``wrapper_html`` (a page that loads ``page`` and writes JSON into ``<pre id="result">``)
    in headless ``browser`` with no network; returns that JSON. Also used by ``serving.classify.video_page_check``.

    ``virtual_time_ms`` replaces the virtual-time budget (15,000 ms): the longest the wrapper's own
    timers may wait. Raises UserError when the browser fails, hangs past ``timeout`` seconds (it is killed), reports
    nothing, or the wrapper reports ``{"error": ...}``.
    """
    with tempfile.TemporaryDirectory(prefix="browser-check-", ignore_cleanup_errors=True) as temp:
        wrapper = pathlib.Path(temp) / "check.html"
        wrapper.write_text(wrapper_html, encoding="utf-8")
        flags = list(_FLAGS)
        if virtual_time_ms is not None:
            flags = [f"--virtual-time-budget={virtual_time_ms}" if f.startswith("--virtual-time") else f for f in flags]
        command = [browser, *flags, f"--user-data-dir={pathlib.Path(temp) / 'profile'}", wrapper.as_uri()]
        returncode, dom, stderr = _run(command, timeout)
    match = re.search(r'<pre id="result">(.*?)</pre>', dom, re.DOTALL)
    if not match or not match.group(1).strip():
        last = next((line for line in reversed(stderr.splitlines()) if line.strip()), "")
        raise UserError(f"{browser} did not report on {page} (exit status {returncode}){': ' + last if last else ''}")
    found = json.loads(html.unescape(match.group(1)))
    if "error" in found:
        raise UserError(f"{browser} could not read {page}: {found['error']}")
    return found


def _run(command: list[str], timeout: float) -> tuple[int, str, str]:
    """Runs the browser with its stderr chatter captured; kills it and its helpers on timeout."""
    with subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the browser and its helpers are killed together
    ) as process:
        try:
            dom, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process.pid)
            raise UserError(f"{command[0]} did not finish within {timeout:.0f} s (killed)") from None
        _kill_group(process.pid)  # helpers that outlive the browser
    return process.returncode, dom, stderr


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _display_name(browser: str) -> str:
    name = pathlib.Path(browser).name
    return "Chromium" if name.startswith("chromium") else "Chrome" if "chrome" in name else name


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
