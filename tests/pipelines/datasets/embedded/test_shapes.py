"""The shape renderer: deterministic, every shape visible, reusable frame by frame."""

import numpy as np
import pytest

from pipelines.datasets.embedded import shapes


@pytest.mark.parametrize("kind", shapes.SHAPES)
def test_each_shape_covers_a_plausible_area(kind):
    params = shapes.ShapeParams(kind, center=(32, 32), radius=20, angle=0.3, color=(255, 0, 0))
    mask = shapes.shape_mask(params, 64, 64)
    area = mask.sum() / (np.pi * 20**2)  # fraction of the circumscribed circle
    assert mask.dtype == np.float32 and mask.min() >= 0 and mask.max() <= 1
    assert 0.2 < area < 1.1, f"{kind} covers {area:.2f} of its circle"


def test_shapes_are_distinguishable_by_mask():
    masks = {
        kind: shapes.shape_mask(shapes.ShapeParams(kind, (32, 32), 20, 0.0, (0, 0, 0)), 64, 64) > 0.5
        for kind in shapes.SHAPES
    }
    for first in shapes.SHAPES:
        for second in shapes.SHAPES:
            if first < second:
                assert (masks[first] != masks[second]).sum() > 30, (first, second)


def test_ring_has_a_hole():
    mask = shapes.shape_mask(shapes.ShapeParams("ring", (32, 32), 20, 0.0, (0, 0, 0)), 64, 64)
    assert mask[32, 32] == 0 and mask[32, 32 + 16] > 0.9


def test_render_is_deterministic_and_uint8():
    first = shapes.render_image(np.random.default_rng(7), "star", 64)
    second = shapes.render_image(np.random.default_rng(7), "star", 64)
    other = shapes.render_image(np.random.default_rng(8), "star", 64)
    assert first.dtype == np.uint8 and first.shape == (64, 64, 3)
    np.testing.assert_array_equal(first, second)
    assert np.abs(first.astype(int) - other).mean() > 5


def test_draw_shape_moves_with_params():
    background = np.zeros((48, 48, 3), np.float32)
    left = shapes.draw_shape(background, shapes.ShapeParams("square", (12, 24), 8, 0.0, (255, 255, 255)))
    right = shapes.draw_shape(background, shapes.ShapeParams("square", (36, 24), 8, 0.0, (255, 255, 255)))
    column = lambda image: (image[..., 0].sum(0) * np.arange(48)).sum() / image[..., 0].sum()  # noqa: E731
    assert column(left) < 20 < column(right)


def test_unknown_shape_is_rejected():
    with pytest.raises(ValueError, match="unknown shape"):
        shapes.outline("hexagram", 0.0)
