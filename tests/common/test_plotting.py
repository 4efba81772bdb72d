"""Figures render Chinese text (file names, class names, titles) with a CJK font, not as empty boxes."""

import warnings

import numpy as np
import pytest

from common import plotting


@pytest.mark.skipif(plotting.cjk_font_file() is None, reason="mplfonts (requirements.txt) is not installed")
def test_chinese_titles_and_class_names_render_without_missing_glyphs(tmp_path):
    from pipelines.training import plots
    from serving.classify.outputs import Timeline

    timeline = Timeline(num_classes=2)
    timeline.add(np.arange(10) / 10, np.tile([[0.3, 0.7]], (10, 1)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        timeline.plot(tmp_path / "timeline.png", ["猫", "正面"], "名字.mp4: video model")
        plots.confusion_matrix(np.eye(2, dtype=int), ["猫", "狗"], tmp_path / "matrix.png", title="猫狗")
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert not missing, missing
    assert (tmp_path / "timeline.png").stat().st_size > 0 and (tmp_path / "matrix.png").stat().st_size > 0
