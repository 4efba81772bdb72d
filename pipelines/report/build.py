"""Runs the report's sections in order and writes ``runs/report/<timestamp>/`` plus the latest copies."""

from __future__ import annotations

import datetime
import json
import logging
import os
import pathlib
import platform
import time
import traceback

from common import browser as browser_lib
from common import config as config_lib
from common.errors import UserError
from pipelines.report import browser_check, render, sections
from pipelines.report.content import new_section
from pipelines.training import run_folder


def build_report(config, runs_dir: str | pathlib.Path, preset_name: str = "") -> pathlib.Path:
    """Runs every section of ``config.sections`` and writes the report; returns its folder.

    A section that fails is reported as failed (with its error) and the others still run, so one
    broken experiment does not hide the rest; the page says so, and :func:`failures` names it for
    the command, which then fails (an experiment that crashes is not an inconclusive one).
    """

    runs_dir = pathlib.Path(runs_dir)
    report_dir = run_folder.make_run_dir(runs_dir, "report")
    figures_dir = report_dir / "figures"
    figures_dir.mkdir()
    config_lib.save(config, report_dir / "config.json")
    started = time.perf_counter()
    load_start = os.getloadavg()
    done = []
    for number in config.sections:
        load_before = os.getloadavg()[0]
        begin = time.perf_counter()
        logging.info("report: section %d", number)
        try:
            section = sections.RUNNERS[number](config, runs_dir, figures_dir)
        except Exception as error:  # noqa: BLE001 - report the failure in its section, keep going
            section = new_section(number)
            section.verdict = "not measured"
            section.verdict_reason = f"the experiment failed: {_one_line(error)}"
            section.error = traceback.format_exc(limit=6)  # on the page and in report.json, not on stderr
            logging.error("report section %d failed: %s", number, _one_line(error))
        section.seconds = time.perf_counter() - begin
        section.load_average = (load_before, os.getloadavg()[0])
        done.append(section)
    seconds = time.perf_counter() - started
    load_end = os.getloadavg()
    header = {
        "title": "CNN, RNN and CNN+RNN: the ideas, measured on our own models",
        "intro": (
            "Each section states one claim, the measurement that tests it and its pictures. Every number comes "
            "from a run folder linked under its section; the verdict says plainly where a measurement does not "
            "support the claim. Training budgets are reduced so that the whole report reruns in minutes; the "
            "pipelines' full presets reach higher accuracy."
            + (
                " This is the tiny smoke-test preset: its models barely train, so most verdicts are 'inconclusive' "
                "and the numbers only show that every step runs; `make report` gives the measurements."
                if config.pipeline_preset == "tiny"
                else ""
            )
        ),
        "meta": (
            f"Generated {datetime.datetime.now().isoformat(timespec='seconds')} by `make report"
            f"{' PRESET=' + preset_name if preset_name and preset_name != 'default' else ''}` (config.json beside this "
            f"file); seed {config.seed}; total run time {seconds:.0f} s on {os.cpu_count()} CPUs "
            f"({platform.machine()}), 1-minute load average {load_start[0]:.1f} at the start and {load_end[0]:.1f} at "
            "the end (other work on the machine inflates every time in this report)."
        ),
    }
    (report_dir / "report.json").write_text(
        json.dumps(
            {
                "seconds": round(seconds, 1),
                "load_average": [load_start[0], load_end[0]],
                "sections": [
                    {
                        "number": s.number,
                        "title": s.title,
                        "verdict": s.verdict,
                        "reason": s.verdict_reason,
                        "seconds": round(s.seconds, 1),
                        "error": s.error or None,
                        "runs": [str(r) for r in s.runs],
                        "figures": [str(f.path) for f in s.figures],
                    }
                    for s in done
                ],
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    # The report in its own folder, and the latest copies one level up (links rewritten relative to it).
    for folder in (report_dir, report_dir.parent):
        render.write_html(folder / "index.html", header, done)
        render.write_markdown(folder / "report.md", header, done)
    logging.info("report written to %s in %.0f s", report_dir, seconds)
    return report_dir


def _one_line(error: Exception) -> str:
    """``Type: message`` cut to its first line (Keras and TensorFlow messages run over many)."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


def failures(report_dir: pathlib.Path) -> list[str]:
    """One line per section whose experiment crashed (``section N (title): Type: message``)."""
    summary = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    return [
        f"section {s['number']} ({s['title']}): {s['reason'].removeprefix('the experiment failed: ')}"
        for s in summary["sections"]
        if s.get("error")
    ]


def check_in_browser(report_dir: pathlib.Path) -> str:
    """Opens the report and its latest copy in headless Chromium, if installed; returns the line to print.

    Every figure listed in ``report.json`` must load and decode, every section's heading be there and
    nothing come from the network (:mod:`pipelines.report.browser_check`); the outcome is recorded in
    ``report.json`` as ``browser_check``. Raises UserError when a page fails. Without a browser the
    line says how to enable the check.
    """
    summary_path = report_dir / "report.json"
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    browser = browser_lib.find_browser()
    if browser is None:
        summary["browser_check"] = {"checked": False}
        summary_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        return (
            "not checked in a browser: no Chromium found; `apt-get install chromium` enables the check "
            "(python -m pipelines.report.browser_check runs/report/index.html)"
        )
    headings = ["Summary"] + [f"{s['number']}. {s['title']}" for s in summary["sections"]]
    figures = sum(len(s["figures"]) for s in summary["sections"])
    problems = []
    for folder in (report_dir, report_dir.parent):
        result = browser_check.check_in_browser(folder / "index.html", headings=headings, browser=browser)
        problems += [f"{result.page}: {problem}" for problem in result.problems]
        if len(result.images) != figures:
            problems.append(f"{result.page}: {len(result.images)} images, expected {figures}")
    summary["browser_check"] = {"checked": True, "browser": browser, "figures": figures, "problems": problems}
    summary_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if problems:
        raise UserError("the report does not display cleanly in a browser: " + "; ".join(problems))
    return result.summary() + " (the report and its latest copy)"
