"""Headless Chromium with no network, to look at our own pages as a reader would.

A check is a small wrapper page (in a temporary folder) that loads the page under test into an
iframe and, once it has loaded, runs the check's own JavaScript on it (:func:`wrapper_page`); the
wrapper writes what it found as JSON into its own DOM, which ``--dump-dom`` prints once the wrapper
has loaded (its load event waits for the iframe's), so the result is there without a wait. Host
names resolve to nothing (``--host-resolver-rules``), so a page that needs the network shows broken
images, and every request it tries (http, https, also to an IP address) is listed as ``network``.

The browser is ``$REPORT_BROWSER`` if set, else the first of chromium, chromium-browser,
google-chrome and google-chrome-stable on PATH (Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import html
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import tempfile

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

# Loads PAGE into an iframe, runs INSPECT (the body of an async function of the iframe's document and
# window) once it has loaded, adds the network requests it made and writes it all as JSON.
_WRAPPER = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>browser check</title></head><body><pre id="result"></pre>
<script>
const out = document.getElementById("result");
const frame = document.createElement("iframe");
FRAME_STYLE
const inspect = async (doc, win) => { INSPECT };
frame.addEventListener("load", async () => {
  try {
    const result = await inspect(frame.contentDocument, frame.contentWindow);
    result.network = frame.contentWindow.performance.getEntriesByType("resource").map((e) => e.name)
      .filter((url) => !/^(file|data|blob|about):/i.test(url));
    out.textContent = JSON.stringify(result);
  } catch (error) {
    out.textContent = JSON.stringify({error: String(error)});
  }
});
frame.src = PAGE;
document.body.appendChild(frame);
</script></body></html>
"""


def wrapper_page(page: pathlib.Path, inspect: str, frame_style: str = "") -> str:
    """The wrapper page for ``page``: ``inspect`` is the JavaScript body of ``async (doc, win) => {...}``,
    run on the loaded page, returning an object (``network`` is added to it)."""
    return (
        _WRAPPER.replace("FRAME_STYLE", frame_style)
        .replace("INSPECT", inspect)
        .replace("PAGE", json.dumps(pathlib.Path(page).as_uri()))
    )


def find_browser() -> str | None:
    """The browser executable: ``$REPORT_BROWSER`` if set, else the first of BROWSERS on PATH."""
    override = os.environ.get(BROWSER_ENV, "").strip()
    if override:
        return shutil.which(override)
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


def run_wrapper(
    browser: str, page: pathlib.Path, wrapper_html: str, timeout: float = 60, virtual_time_ms: int | None = None
) -> dict:
    """Opens ``wrapper_html`` (a page that loads ``page`` and writes JSON into ``<pre id="result">``)
    in headless ``browser`` with no network; returns that JSON.

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


def display_name(browser: str) -> str:
    name = pathlib.Path(browser).name
    return "Chromium" if name.startswith("chromium") else "Chrome" if "chrome" in name else name
