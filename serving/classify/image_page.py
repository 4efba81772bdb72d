"""``OUT/index.html`` of classify-image over a folder: thumbnails with their labels, offline (no network).

When the photos sit in class sub-folders the page starts with the accuracy, the confusion matrix (rows:
the true class, columns: the predicted one) and the mistakes, then every photo; otherwise every photo
with its label and score. Thumbnails (at most 192 px) are written beside the page, in
``thumbnails/``; with ``--explain`` each photo also shows its Grad-CAM heat map (``explain/``).
"""

from __future__ import annotations

import html
import os
import pathlib

import cv2
import numpy as np

from serving.classify import photos

THUMBNAIL_SIDE = 192


def file_name(name: str) -> str:
    """A photo's name under the folder as one file name (sub-folders joined by ``__``), as JPEG."""
    return pathlib.PurePosixPath(name).with_suffix(".jpg").as_posix().replace("/", "__")


def _thumbnail(photo: photos.Photo, path: pathlib.Path) -> None:
    image = cv2.imread(str(photo.path), cv2.IMREAD_COLOR)
    if image is None:  # a format OpenCV does not read (an animated GIF, say): a grey square stands in
        image = np.full((THUMBNAIL_SIDE, THUMBNAIL_SIDE, 3), 200, np.uint8)
    scale = min(1.0, THUMBNAIL_SIDE / max(image.shape[:2]))
    if scale < 1:
        size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 85])


def _card(out, photo, row, class_names, explained) -> str:
    top = int(row.argmax())
    label = class_names[top]
    wrong = photo.true_label is not None and photo.true_label != label
    thumbnail = out / "thumbnails" / file_name(photo.name)
    _thumbnail(photo, thumbnail)
    images = f'<img src="thumbnails/{html.escape(thumbnail.name)}" alt="{html.escape(photo.name)}">'
    if photo.name in explained:
        heat = os.path.relpath(explained[photo.name], out)
        images += f'<img src="{html.escape(pathlib.Path(heat).as_posix())}" alt="heat map" class="heat">'
    truth = f" (true: {html.escape(photo.true_label)})" if wrong else ""
    return (
        f'<figure class="{"wrong" if wrong else "right"}">{images}<figcaption><b>{html.escape(label)}</b> '
        f"{row[top]:.2f}{truth}<br><small>{html.escape(photo.name)}</small></figcaption></figure>"
    )


def _confusion(checked, probabilities, class_names) -> str:
    index = {name: i for i, name in enumerate(class_names)}
    matrix = np.zeros((len(class_names), len(class_names)), int)
    for photo, row in zip(checked, probabilities):
        if photo.true_label in index:
            matrix[index[photo.true_label], int(row.argmax())] += 1
    header = "".join(f"<th>{html.escape(name)}</th>" for name in class_names)
    rows = "".join(
        f"<tr><th>{html.escape(name)}</th>"
        + "".join(f'<td class="{"diagonal" if i == j else ""}">{matrix[i, j]}</td>' for j in range(len(class_names)))
        + "</tr>"
        for i, name in enumerate(class_names)
    )
    return f"<table><tr><th>true \\ predicted</th>{header}</tr>{rows}</table>"


def write_page(out, root, checked, probabilities, class_names, explained, failed, model_where) -> pathlib.Path:
    """Writes ``out/index.html`` (and its thumbnails); returns its path."""
    cards = [_card(out, photo, row, class_names, explained) for photo, row in zip(checked, probabilities)]
    labelled = [photo.true_label is not None for photo in checked]
    parts = [f"<h1>{html.escape(str(root))}</h1>", f"<p>{len(checked)} photo(s), model {html.escape(model_where)}</p>"]
    if all(labelled):
        predicted = [class_names[int(row.argmax())] for row in probabilities]
        correct = sum(p == photo.true_label for p, photo in zip(predicted, checked))
        parts.append(f"<h2>Accuracy {correct / len(checked):.4f} ({correct} of {len(checked)})</h2>")
        parts.append(_confusion(checked, probabilities, class_names))
        mistakes = [card for card, p, photo in zip(cards, predicted, checked) if p != photo.true_label]
        parts.append(f"<h2>Mistakes ({len(mistakes)})</h2><div class='grid'>{''.join(mistakes)}</div>")
    if failed:
        items = "".join(f"<li>{html.escape(name)}: {html.escape(reason)}</li>" for name, reason in failed)
        parts.append(f"<h2>Not classified ({len(failed)})</h2><ul>{items}</ul>")
    parts.append(f"<h2>All photos</h2><div class='grid'>{''.join(cards)}</div>")
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(pathlib.Path(root).name)}: classify-image</title><style>"
        "body{font-family:system-ui,sans-serif;margin:1.5em}.grid{display:flex;flex-wrap:wrap;gap:.8em}"
        "figure{margin:0;padding:.4em;border:2px solid #ddd;border-radius:6px;max-width:400px}"
        "figure.wrong{border-color:#d33}img{max-height:192px;margin-right:.3em}td,th{padding:.2em .6em;"
        "text-align:right}td.diagonal{background:#e6f4e6}</style></head><body>" + "".join(parts) + "</body></html>\n"
    )
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
