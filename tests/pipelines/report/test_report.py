"""`make report`: the tiny report end to end, its rendering, and the shift test's data."""

from __future__ import annotations

import html.parser
import json
import pathlib
import re
import time

import numpy as np
import pytest

from common import browser
from tests.helpers import run_module

HEADINGS = (
    "1. Convolution finds local patterns, deeper layers combine them",
    "2. Pooling makes the model less sensitive to position",
    "3. An RNN carries memory; LSTM and GRU keep it over long distances",
    "4. GRU is lighter than LSTM",
    "5. CNN per frame + RNN across frames understands motion",
)


class _Resources(html.parser.HTMLParser):
    """Collects every src and href of a page."""

    def __init__(self):
        super().__init__()
        self.images, self.links, self.all = [], [], []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.all.append(value)
                (self.images if tag == "img" else self.links).append(value)


def _check_page(page: pathlib.Path) -> _Resources:
    text = page.read_text(encoding="utf-8")
    parser = _Resources()
    parser.feed(text)
    assert parser.images, f"{page} has no figures"
    for source in parser.images:
        assert source.startswith("data:") or (page.parent / source).is_file(), f"{page}: broken image {source}"
    for target in parser.all:
        assert not re.match(r"(?i)^(https?:)?//", target), f"{page} loads {target} from the network"
    for target in parser.links:  # run folders
        assert (page.parent / target).exists(), f"{page}: broken link {target}"
    return parser


def _check_markdown(page: pathlib.Path) -> None:
    text = page.read_text(encoding="utf-8")
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert images, f"{page} has no figures"
    for source in images:
        assert (page.parent / source).is_file(), f"{page}: broken image {source}"
    for target in re.findall(r"(?<!!)\[[^\]]*\]\(([^)]+)\)", text):
        assert not target.startswith(("http:", "https:")), target
        assert (page.parent / target).exists(), f"{page}: broken link {target}"


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory) -> pathlib.Path:
    runs = tmp_path_factory.mktemp("runs")
    result = run_module("pipelines.report", "--preset", "tiny", "--runs-dir", str(runs), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return runs / "report"


def test_tiny_report_has_five_sections_and_no_broken_or_remote_resources(tiny_report):
    (report_dir,) = [p for p in tiny_report.iterdir() if p.is_dir() and p.name[0].isdigit()]
    for folder in (report_dir, tiny_report):  # the report and its latest copy, links relative to each
        page = folder / "index.html"
        markdown = folder / "report.md"
        html_text, markdown_text = page.read_text(encoding="utf-8"), markdown.read_text(encoding="utf-8")
        for heading in HEADINGS:
            assert heading in html_text
            assert f"## {heading}" in markdown_text
        _check_page(page)
        _check_markdown(markdown)
    summary = json.loads((report_dir / "report.json").read_text())
    assert [s["number"] for s in summary["sections"]] == [1, 2, 3, 4, 5]
    for section in summary["sections"]:
        assert section["verdict"] != "not measured", section  # every experiment ran
        assert section["runs"] and section["figures"], section
        for run in section["runs"]:
            assert pathlib.Path(run).is_dir()
    assert "seed 0" in html_text and "run time" in html_text


def _browser() -> str | None:
    return browser.find_browser()


needs_browser = pytest.mark.skipif(_browser() is None, reason="no Chromium (apt-get install chromium)")


@needs_browser
def test_tiny_report_displays_offline_in_headless_chromium(tiny_report):
    from pipelines.report import browser_check

    (report_dir,) = [p for p in tiny_report.iterdir() if p.is_dir() and p.name[0].isdigit()]
    summary = json.loads((report_dir / "report.json").read_text())
    figures = sum(len(s["figures"]) for s in summary["sections"])
    assert summary["browser_check"] == {
        "checked": True,
        "browser": browser.find_browser(),
        "figures": figures,
        "problems": [],
    }
    for folder in (report_dir, tiny_report):
        result = browser_check.check_in_browser(folder / "index.html", headings=("Summary", *HEADINGS))
        assert result.ok, result.problems
        assert len(result.images) == figures >= 5 and not result.broken and not result.network


def _synthetic_report(root: pathlib.Path) -> pathlib.Path:
    """A report folder as build_report leaves it: two real PNG figures, report.json, the page and its copy."""
    import cv2

    from pipelines.report import render
    from pipelines.report.content import Figure, new_section

    report_dir = root / "runs" / "report" / "20260101-000000"
    (report_dir / "figures").mkdir(parents=True)
    done = []
    for number in (1, 2):
        figure = report_dir / "figures" / f"figure{number}.png"
        image = np.zeros((40, 60, 3), np.uint8)
        image[:, : 20 * number] = (0, 128, 255)
        figure.write_bytes(cv2.imencode(".png", image)[1].tobytes())
        section = new_section(number)
        section.verdict, section.figures = "supported", [Figure(figure, f"figure {number}")]
        done.append(section)
    sections = [{"number": s.number, "title": s.title, "figures": [str(f.path) for f in s.figures]} for s in done]
    (report_dir / "report.json").write_text(json.dumps({"sections": sections}))
    for folder in (report_dir, report_dir.parent):
        render.write_html(folder / "index.html", {"title": "t", "intro": "i", "meta": "m"}, done)
    return report_dir


@needs_browser
def test_synthetic_report_displays_offline_in_headless_chromium(tmp_path):
    from pipelines.report import browser_check, build

    report_dir = _synthetic_report(tmp_path)
    result = browser_check.check_in_browser(report_dir / "index.html", headings=("Summary", HEADINGS[0], HEADINGS[1]))
    assert result.ok, result.problems
    assert result.images == ["figures/figure1.png", "figures/figure2.png"] and not result.broken
    assert result.headings == ["Summary", HEADINGS[0], HEADINGS[1]] and not result.network
    line = build.check_in_browser(report_dir)  # both pages, recorded in report.json
    assert line.startswith("checked in headless ") and "2 figures loaded, 0 broken" in line
    assert "no network requests" in line
    assert json.loads((report_dir / "report.json").read_text())["browser_check"]["problems"] == []


@needs_browser
def test_browser_check_reports_broken_and_remote_images(tmp_path):
    from common.errors import UserError
    from pipelines.report import browser_check, build

    report_dir = _synthetic_report(tmp_path)
    (report_dir / "figures" / "figure1.png").write_bytes(b"not a png")
    (report_dir / "figures" / "figure2.png").unlink()
    page = report_dir / "index.html"
    result = browser_check.check_in_browser(page, headings=("Summary", "9. a section that is not there"))
    assert result.broken == ["figures/figure1.png", "figures/figure2.png"] and not result.ok
    assert "missing heading '9. a section that is not there'" in result.problems
    with pytest.raises(UserError, match="broken image figures/figure1.png"):
        build.check_in_browser(report_dir)
    assert len(json.loads((report_dir / "report.json").read_text())["browser_check"]["problems"]) == 4

    remote = tmp_path / "remote.html"  # the network is cut off: a remote image is broken and listed
    remote.write_text(
        "<link rel=stylesheet href='https://cdn.example.org/s.css'><h2>Summary</h2><img src='http://example.com/a.png'>"
    )
    result = browser_check.check_in_browser(remote)
    assert result.broken == ["http://example.com/a.png"]
    assert sorted(result.network) == ["http://example.com/a.png", "https://cdn.example.org/s.css"]

    cli = run_module("pipelines.report.browser_check", str(page), timeout=60)
    assert cli.returncode == 2 and cli.stdout == ""
    assert cli.stderr.startswith("error: ") and cli.stderr.count("\n") == 1, cli.stderr
    assert "broken image figures/figure2.png" in cli.stderr


def test_browser_check_without_a_browser_says_how_to_install_one(tmp_path, monkeypatch):
    from pipelines.report import build

    report_dir = _synthetic_report(tmp_path)
    monkeypatch.setenv("REPORT_BROWSER", str(tmp_path / "no-such-browser"))
    assert "apt-get install chromium" in build.check_in_browser(report_dir)
    assert json.loads((report_dir / "report.json").read_text())["browser_check"] == {"checked": False}
    cli = run_module("pipelines.report.browser_check", str(report_dir / "index.html"), timeout=60)
    assert cli.returncode == 2 and "apt-get install chromium" in cli.stderr and cli.stderr.count("\n") == 1


def test_browser_check_kills_a_hung_browser(tmp_path):
    from common.errors import UserError
    from pipelines.report import browser_check

    hung = tmp_path / "hung-browser"
    hung.write_text("#!/bin/sh\nsleep 60 &\nsleep 60\n")
    hung.chmod(0o755)
    page = _synthetic_report(tmp_path) / "index.html"
    started = time.perf_counter()
    with pytest.raises(UserError, match="did not finish within 1 s"):
        browser_check.check_in_browser(page, timeout=1, browser=str(hung))
    assert time.perf_counter() - started < 10


def test_render_links_figures_and_runs_relative_to_each_page(tmp_path):
    from pipelines.report import render
    from pipelines.report.content import Figure, Table, new_section

    report_dir = tmp_path / "runs" / "report" / "20260101-000000"
    (report_dir / "figures").mkdir(parents=True)
    figure = report_dir / "figures" / "a.png"
    figure.write_bytes(b"\x89PNG\r\n\x1a\n")
    run = tmp_path / "runs" / "image" / "20260101-000001"
    run.mkdir(parents=True)
    section = new_section(2)
    section.verdict, section.verdict_reason = "not supported", "drop 0.4 vs 0.1 <b>"
    section.blocks = ["a **bold** note", Table(["shift", "accuracy"], [["0", "0.9"], ["8", "0.5"]])]
    section.figures, section.runs = [Figure(figure, "caption; seed 0; run time 3 s")], [run]
    header = {"title": "t", "intro": "i", "meta": "m"}
    for folder in (report_dir, report_dir.parent):
        page = render.write_html(folder / "index.html", header, [section])
        markdown = render.write_markdown(folder / "report.md", header, [section])
        _check_page(page)
        _check_markdown(markdown)
        text = page.read_text()
        assert "&lt;b&gt;" in text and "<strong>bold</strong>" in text  # escaped, bold kept
        assert "<td>0.5</td>" in text and "| 8 | 0.5 |" in markdown.read_text()


def test_shifted_test_set_moves_the_same_scene():
    from pipelines.report.sections import pooling

    centred, labels = pooling.shifted_test_set(12, 0, 48, seed=1)
    again, _ = pooling.shifted_test_set(12, 0, 48, seed=1)
    shifted, shifted_labels = pooling.shifted_test_set(12, 10, 48, seed=1)
    assert centred.shape == (12, 48, 48, 3) and centred.dtype == np.uint8
    np.testing.assert_array_equal(centred, again)  # deterministic
    np.testing.assert_array_equal(labels, shifted_labels)
    assert sorted(set(labels.tolist())) == list(range(6))
    assert np.abs(centred.astype(int) - shifted.astype(int)).mean() > 5  # the shape moved


def test_centred_shapes_folder_is_written_once(tmp_path):
    from pipelines.report.sections import pooling

    folder = pooling.centred_shapes_folder(tmp_path, per_class=3, size=32, jitter=2, seed=0)
    files = sorted(folder.rglob("*.png"))
    assert len(files) == 18 and len({f.parent.name for f in files}) == 6
    stamp = files[0].stat().st_mtime_ns
    assert pooling.centred_shapes_folder(tmp_path, per_class=3, size=32, jitter=2, seed=0) == folder
    assert files[0].stat().st_mtime_ns == stamp


def test_unknown_setting_is_refused_in_one_line():
    result = run_module("pipelines.report", "--set", "epochs=3", timeout=60)
    assert result.returncode == 2
    assert "unknown config key 'epochs'" in result.stderr and "Traceback" not in result.stderr


def test_receptive_fields_grow_per_block():
    from pipelines.configs.image import ImageModelConfig
    from pipelines.report.sections import convolution

    assert convolution._receptive_fields(ImageModelConfig(filters=(8, 8, 8))) == [4, 10, 22]
    assert convolution._receptive_fields(ImageModelConfig(filters=(8, 8), pooling="none")) == [3, 7]


def test_motion_section_rebuilds_the_model_its_default_preset_run_trained(tmp_path):
    """Section 5's train-then-reload path on the default preset's automatic settings (frame size 0:
    chosen by the run, 32 for the embedded clips) at tiny budgets: the reloaded model is the trained one."""
    from pipelines.configs.report import ReportConfig
    from pipelines.report.sections import motion

    config = ReportConfig(
        sections=(5,),
        video_epochs=1,
        video_baseline_epochs=1,
        video_train_examples=64,
        video_eval_examples=32,
        long_video_segments=2,
    )
    figures = tmp_path / "figures"
    figures.mkdir()
    section = motion.motion(config, tmp_path, figures)
    assert section.verdict in ("supported", "partly supported", "not supported", "inconclusive"), section
    assert [figure.path.name for figure in section.figures] == ["5_per_class.png", "5_timeline.png"]
    saved = json.loads((section.runs[0] / "config.json").read_text())
    assert saved["frame_size"] == 32 and saved["filters"] == [16, 32, 64]
    timeline = json.loads((section.runs[1] / "results.json").read_text())
    assert timeline["long_video"]["frames"] > 0 and 0 <= timeline["accuracy"]["CNN+RNN"] <= 1


def test_a_section_that_crashes_fails_the_command_in_one_line(tmp_path, monkeypatch, capsys):
    from common import cli
    from pipelines.report import command, sections

    def crash(config, runs_dir, figures_dir):
        raise ValueError("the shapes do not match\n(a second line of detail)")

    monkeypatch.setitem(sections.RUNNERS, 1, crash)
    monkeypatch.setenv("REPORT_BROWSER", str(tmp_path / "no-such-browser"))
    code = cli.run(command.main, ["--sections", "1", "--runs-dir", str(tmp_path)])
    errors = capsys.readouterr().err
    assert code == 1
    assert f"error: report section 1 ({HEADINGS[0][3:]}): ValueError: the shapes do not match\n" in errors
    assert "Traceback" not in errors and "second line" not in errors
    (summary_path,) = (tmp_path / "report").glob("2*/report.json")
    (section,) = json.loads(summary_path.read_text())["sections"]
    assert section["verdict"] == "not measured" and "ValueError" in section["error"]  # the page says so
