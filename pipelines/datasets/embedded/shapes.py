"""Renders geometric shapes on textured backgrounds; the embedded image and video datasets use it.

A shape is described by :class:`ShapeParams` (kind, centre, radius, angle, colour), so a video
generator can move, scale and rotate one shape over a fixed background by changing the params
frame by frame and calling :func:`draw_shape` each time.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

SHAPES = ("circle", "square", "triangle", "star", "cross", "ring")

# Sub-pixel precision for cv2.fillPoly: coordinates are fixed-point with this many fraction bits.
_SHIFT = 4


@dataclasses.dataclass(frozen=True)
class ShapeParams:
    kind: str
    center: tuple[float, float]  # (x, y) in pixels
    radius: float  # circumradius in pixels
    angle: float  # radians, counter-clockwise on screen
    color: tuple[int, int, int]  # RGB


def _regular_polygon(num_vertices: int, angle: float, radii: tuple[float, ...] = (1.0,)) -> np.ndarray:
    """Unit polygon vertices; with two radii, alternates them (a star)."""
    count = num_vertices * len(radii)
    theta = angle - np.pi / 2 + np.arange(count) * 2 * np.pi / count
    scale = np.array([radii[i % len(radii)] for i in range(count)])
    return np.stack([np.cos(theta) * scale, -np.sin(theta) * scale], axis=1)


def _cross(angle: float) -> np.ndarray:
    arm = 0.33
    points = (
        np.array(
            [
                (-arm, -1),
                (arm, -1),
                (arm, -arm),
                (1, -arm),
                (1, arm),
                (arm, arm),
                (arm, 1),
                (-arm, 1),
                (-arm, arm),
                (-1, arm),
                (-1, -arm),
                (-arm, -arm),
            ],
            dtype=np.float64,
        )
        * 0.8
    )
    rotation = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    return points @ rotation.T


def outline(kind: str, angle: float) -> list[np.ndarray]:
    """The shape's polygons in unit coordinates; the first is filled, the rest are holes."""
    if kind == "circle":
        return [_regular_polygon(48, angle)]
    if kind == "square":
        return [_regular_polygon(4, angle + np.pi / 4) * 0.85]
    if kind == "triangle":
        return [_regular_polygon(3, angle)]
    if kind == "star":
        return [_regular_polygon(5, angle, radii=(1.0, 0.42))]
    if kind == "cross":
        return [_cross(angle)]
    if kind == "ring":
        return [_regular_polygon(48, angle), _regular_polygon(48, angle) * 0.55]
    raise ValueError(f"unknown shape '{kind}'; known: {', '.join(SHAPES)}")


def shape_mask(params: ShapeParams, height: int, width: int) -> np.ndarray:
    """An anti-aliased coverage mask of the shape, float32 in [0, 1], shape (height, width)."""
    mask = np.zeros((height, width), np.uint8)
    polygons = outline(params.kind, params.angle)
    center = np.asarray(params.center)
    for index, polygon in enumerate(polygons):
        points = np.round((polygon * params.radius + center) * (1 << _SHIFT)).astype(np.int32)
        cv2.fillPoly(mask, [points], 0 if index else 255, lineType=cv2.LINE_AA, shift=_SHIFT)
    return mask.astype(np.float32) / 255.0


def render_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A random textured background: a colour gradient, optional stripes or blobs, and noise."""
    base = rng.uniform(0, 255, size=(2, 3))
    t = np.linspace(0.0, 1.0, width if rng.random() < 0.5 else height, dtype=np.float32)
    gradient = base[0] + (base[1] - base[0]) * t[:, None]
    if len(t) == width:
        image = np.broadcast_to(gradient[None, :, :], (height, width, 3)).copy()
    else:
        image = np.broadcast_to(gradient[:, None, :], (height, width, 3)).copy()
    texture = rng.integers(0, 3)
    if texture == 1:  # stripes at a random angle
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        theta = rng.uniform(0, np.pi)
        period = rng.uniform(4, 12)
        stripes = np.sin((xx * np.cos(theta) + yy * np.sin(theta)) * 2 * np.pi / period)
        image += stripes[..., None] * rng.uniform(6, 20)
    elif texture == 2:  # low-frequency blobs
        small = rng.normal(0, 1, size=(4, 4, 3)).astype(np.float32)
        image += cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC) * rng.uniform(6, 18)
    image += rng.normal(0, rng.uniform(2, 8), size=image.shape)
    return np.clip(image, 0, 255).astype(np.float32)


def contrasting_color(
    rng: np.random.Generator, background: np.ndarray, min_distance: float = 150.0
) -> tuple[int, int, int]:
    """A random RGB colour far enough from the background's mean colour to be visible."""
    mean = background.reshape(-1, 3).mean(axis=0)
    for _ in range(100):
        color = rng.integers(0, 256, size=3)
        if np.linalg.norm(color - mean) >= min_distance:
            return tuple(int(c) for c in color)
    return tuple(int(c) for c in np.where(mean > 127, 0, 255))


def draw_shape(canvas: np.ndarray, params: ShapeParams, shading: float = 0.0) -> np.ndarray:
    """Composites the shape onto a float32 canvas (height, width, 3) and returns a new array."""
    height, width = canvas.shape[:2]
    mask = shape_mask(params, height, width)[..., None]
    fill = np.asarray(params.color, np.float32)
    if shading:  # a soft light gradient across the shape, so fills are not flat
        yy = np.linspace(-1, 1, height, dtype=np.float32)[:, None, None]
        fill = fill + shading * yy
    return canvas * (1.0 - mask) + fill * mask


def sample_params(rng: np.random.Generator, kind: str, size: int, background: np.ndarray) -> ShapeParams:
    """Random position, scale, rotation and colour for a shape that fits in a size x size frame."""
    radius = rng.uniform(0.22, 0.38) * size
    margin = radius * 0.9
    center = (rng.uniform(margin, size - margin), rng.uniform(margin, size - margin))
    return ShapeParams(kind, center, radius, rng.uniform(0, 2 * np.pi), contrasting_color(rng, background))


def finish(canvas: np.ndarray, rng: np.random.Generator, noise: float = 4.0) -> np.ndarray:
    """Adds sensor-like noise and converts to uint8 RGB."""
    canvas = canvas + rng.normal(0, noise, size=canvas.shape)
    return np.clip(np.round(canvas), 0, 255).astype(np.uint8)


def render_image(rng: np.random.Generator, kind: str, size: int = 64) -> np.ndarray:
    """One labelled example: a ``kind`` shape on a random background, uint8 (size, size, 3) RGB."""
    background = render_background(rng, size, size)
    params = sample_params(rng, kind, size, background)
    return finish(draw_shape(background, params, shading=rng.uniform(-25, 25)), rng)
