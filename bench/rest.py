"""REST serving cost: ``python -m bench rest`` (or ``python -m bench.rest``).

Starts the development server (``python -m serving.rest.server --port 0``, loopback only) over the latest
``export/video`` and ``export/image`` when present (``--export-dir``), else over tiny untrained stubs
with the same signatures (``serving.export.stub_export``, 64x64); the first rows say which. Then, one client
sending one request after another (as ``classify-video --server`` does), each measurement running
for ``--seconds`` (default 2 s) after one untimed call:

- video ``stream`` with raw uint8 frames (``frames`` + ``state_0``/``state_1``, the state carried
  from one request to the next), ``--chunk`` frames (default 32, classify-video's batch) per request;
- video with JPEG frames (``{"b64": ...}``): through a stream signature taking ``frame_bytes`` if the
  export has one, else the ``encoded`` signature (same frame count per request, no state);
- image ``serving_default`` (raw uint8 ``images``) and ``encoded`` (JPEG ``image_bytes``), ``--chunk``
  images per request.

Each through REST (``serving.rest.client.Client``, JSON encode + HTTP + server decode + run + JSON back)
and in-process (the same signature's concrete function from ``tf.saved_model.load``, same inputs):
requests/s, frames/s, the ratio REST / in-process, and request bytes per frame for each encoding.
Frames are the first ``--chunk`` frames of ../shared/data/videos/slow_traffic_small.mp4 when present
(else a generated clip), resized to the model's input size as classify-video does; JPEG is OpenCV's
at quality 95 (classify-video's setting), encoded once before timing (its own rate is a row of its
own). Run time: about 30 s plus server start-up.
"""

from __future__ import annotations

import json
import pathlib
import sys
import tempfile
import time

import cv2
import numpy as np
import tensorflow as tf

from bench.classify_video import generate_video, prepare_models
from bench.support.table import Rows, format_table
from common import cli
from serving.classify import frame_classifiers, video_reader
from serving.classify import video as classify_video
from serving.export import layout
from serving.rest import client, dev_server, rest_codec
from serving.rest import client as rest_client

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_VIDEO = PROJECT_ROOT.parent / "shared" / "data" / "videos" / "slow_traffic_small.mp4"
JPEG_QUALITY = 95  # frame_classifiers.RestClassifier's
BENCH = "rest"


def read_frames(path: pathlib.Path, num_frames: int, image_size: int) -> np.ndarray:
    """The first ``num_frames`` frames, RGB uint8 ``(n, size, size, 3)``, resized as classify-video does."""

    capture = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < num_frames:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(video_reader.resize_frame(frame, image_size))
    capture.release()
    if not frames:
        raise RuntimeError(f"no frames decoded from {path}")
    while len(frames) < num_frames:  # a short clip: loop it
        frames.append(frames[len(frames) % max(len(frames), 1)])
    return np.stack(frames)


def encode_jpeg(pixels: np.ndarray) -> np.ndarray:
    """RGB frames → JPEG bytes (object array), as ``RestClassifier`` sends them."""
    encoded = [
        cv2.imencode(".jpg", frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])[1].tobytes()
        for frame in pixels
    ]
    array = np.empty(len(encoded), dtype=object)
    array[:] = encoded
    return array


def encode_png(pixels: np.ndarray) -> np.ndarray:
    """RGB frames → PNG bytes (object array), as ``RestClassifier`` sends them by default."""

    return client.encode_images(pixels, "png")


def request_body(signature_name: str, inputs: dict) -> bytes:
    """The JSON body ``Client.predict`` sends for these inputs (columnar)."""

    body = {"signature_name": signature_name, "inputs": {n: client._to_json_fragment(v) for n, v in inputs.items()}}
    return client._dumps(body)


def request_bytes(signature_name: str, inputs: dict) -> int:
    return len(request_body(signature_name, inputs))


def codec_rows(row, inputs: dict, input_dtypes: dict, seconds: float) -> None:
    """Raw-frame JSON both ways, this code vs the per-element path it replaced, on the same body.

    The server's decoding (``parse_predict_body`` + ``decode_predict_inputs``, dense integer arrays) vs
    ``parse_json`` + ``decode_predict_inputs`` (one Python object per element, the generic path), and
    the client's encoding (``json_arrays.dumps_int_array``) vs ``json.dumps(array.tolist())``.
    """

    body = request_body("stream", inputs)
    frames = inputs["frames"].shape[1]

    def decode(parse):
        return lambda: rest_codec.decode_predict_inputs(parse(body), input_dtypes, False)

    assert all(
        np.array_equal(decode(rest_codec.parse_predict_body)()[0][n], decode(rest_codec.parse_json)()[0][n])
        for n in inputs
    )
    new = timed(decode(rest_codec.parse_predict_body), seconds) * frames
    old = timed(decode(rest_codec.parse_json), seconds) * frames
    row("server decode of raw uint8 frames JSON: dense path", new, "frames/s", new / old, "per-element path", ">= 5x")
    rows_ok(row, new / old >= 5)
    row("server decode of raw uint8 frames JSON: per-element path (before)", old, "frames/s")
    plain = {"signature_name": "stream", "inputs": {name: value.tolist() for name, value in inputs.items()}}
    old = timed(lambda: json.dumps(plain, separators=(",", ":")).encode("utf-8"), seconds) * frames
    new = timed(lambda: request_body("stream", inputs), seconds) * frames
    row("client encode of raw uint8 frames JSON: json_arrays", new, "frames/s", new / old, "json.dumps(tolist())")


def rows_ok(row, ok: bool) -> None:
    """Marks the last row's target as met or not."""
    row[-1]["ok"] = ok


def timed(call, seconds: float, max_calls: int = 100_000) -> float:
    """Calls per second of ``call()`` over about ``seconds`` (one untimed call first)."""
    call()
    count, started = 0, time.perf_counter()
    while count < max_calls:
        call()
        count += 1
        if time.perf_counter() - started >= seconds:
            break
    return count / (time.perf_counter() - started)


def stream_state(signature, frame_input: str) -> dict[str, np.ndarray]:
    """Zero state for every input of ``signature`` other than ``frame_input`` (batch 1)."""
    _, specs = signature.structured_input_signature
    return {
        name: np.zeros([1, spec.shape[-1]], spec.dtype.as_numpy_dtype)
        for name, spec in specs.items()
        if name != frame_input
    }


def main(argv: list[str] | None = None) -> list[dict]:
    parser = cli.ArgumentParser(prog="python -m bench.rest")
    parser.add_argument("--export-dir", default=str(PROJECT_ROOT / "export"))
    parser.add_argument("--chunk", type=int, default=32, help="frames (images) per request")
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    args = parser.parse_args(argv)
    if args.chunk < 1 or args.seconds <= 0:
        parser.error("--chunk must be >= 1 and --seconds > 0")

    rows = row = Rows(BENCH)

    with tempfile.TemporaryDirectory(prefix="bench-rest-") as scratch:
        scratch = pathlib.Path(scratch)
        export_root, kinds = prepare_models(pathlib.Path(args.export_dir), scratch)
        for name, kind in kinds.items():
            row(f"model {name}", kind, "")
        video = SHARED_VIDEO if SHARED_VIDEO.exists() else generate_video(scratch / "clip.mp4", args.chunk)
        row("frames from", video.name, "")
        server = dev_server.start(export_root, stderr=scratch / "server.log")
        url = server.url
        try:
            client = rest_client.Client(url, timeout=60, retries=0)
            row("server", f"dev server {url}", "")
            for model_name in ("video", "image"):
                version_dir = layout.latest_version_dir(export_root, model_name)
                loaded = tf.saved_model.load(str(version_dir))
                image_size = frame_classifiers.image_size_from_config(version_dir) or 64
                pixels = read_frames(video, args.chunk, image_size)  # (chunk, size, size, 3)
                jpeg = encode_jpeg(pixels)
                if model_name == "video":
                    for name, encode in (("PNG (Huffman, Paeth)", encode_png), (f"JPEG q{JPEG_QUALITY}", encode_jpeg)):
                        call = lambda encode=encode, pixels=pixels: encode(pixels)  # noqa: E731
                        rate = timed(call, args.seconds / 2) * len(pixels)
                        what = f"{name} encode, {image_size}x{image_size} (client side, in the REST rows below)"
                        row(what, rate, "frames/s")
                if model_name == "video":
                    stream = loaded.signatures["stream"]
                    stream_inputs = {"frames": pixels[np.newaxis], **stream_state(stream, "frames")}
                    dtypes = {name: spec.dtype for name, spec in stream.structured_input_signature[1].items()}
                    codec_rows(row, stream_inputs, dtypes, args.seconds)
                cases = (
                    video_cases(loaded, pixels, jpeg) if model_name == "video" else image_cases(loaded, pixels, jpeg)
                )
                raw_bytes = None
                for label, signature_name, inputs, frame_input in cases:
                    what = f"{model_name} {label}, {args.chunk} x {image_size}x{image_size}/request"
                    rest_rate, local_rate = measure(
                        client, loaded, model_name, signature_name, inputs, frame_input, args
                    )
                    row(f"{what}: REST", rest_rate, "requests/s")
                    row(f"{what}: REST", rest_rate * args.chunk, "frames/s", rest_rate / local_rate, "in-process")
                    if label.endswith("raw uint8"):
                        # The same request in the row format, which the dense path leaves to the per-element
                        # one on both sides (client tolist + json.dumps, server json + checks): the generic
                        # per-element path.
                        before, _ = measure(
                            client, loaded, model_name, signature_name, inputs, frame_input, args, columnar=False
                        )
                        row(
                            f"{what}: REST, dense JSON path",
                            rest_rate * args.chunk,
                            "frames/s",
                            rest_rate / before,
                            "per-element path",
                            ">= 5x",
                        )
                        rows_ok(row, rest_rate / before >= 5)
                        row(f"{what}: REST, per-element JSON path (before)", before * args.chunk, "frames/s")
                    row(f"{what}: in-process", local_rate * args.chunk, "frames/s")
                    size = request_bytes(signature_name, inputs) / args.chunk
                    raw_bytes = raw_bytes or size
                    ratio = None if size == raw_bytes else size / raw_bytes
                    row(f"{what}: request body", size, "bytes/frame", ratio, "raw uint8" if ratio else "")
            classify_video_rows(row, video, export_root, url, scratch)
        finally:
            server.stop()
    return rows


def classify_video_rows(row, video: pathlib.Path, export_root: pathlib.Path, url: str, scratch: pathlib.Path):
    """``classify-video`` on the same file in-process and through the server with each ``--encoding``."""

    def frames_per_second(name: str, *options) -> float:
        """The better of 2 runs (other work on a shared machine only slows a run down)."""
        out = scratch / f"classify-{name}"
        argv = [str(video), "--out", str(out), "--no-annotate", "--export-dir", str(export_root), *options]
        rates = []
        for _ in range(2):
            if classify_video.main(argv) != 0:
                raise RuntimeError(f"classify-video {' '.join(argv)} failed")
            rates.append(json.loads((out / "summary.json").read_text())["frames_per_second"])
        return max(rates)

    local = frames_per_second("local")
    row(f"classify-video {video.name}, video model: in-process", local, "frames/s")
    for encoding, target in (("png", 0.8), ("jpeg", None), ("raw", None)):
        rate = frames_per_second(encoding, "--server", url, "--encoding", encoding)
        label = "png, the default" if encoding == "png" else encoding
        row(
            f"classify-video {video.name}, video model: --server, --encoding {label}",
            rate,
            "frames/s",
            rate / local,
            "in-process",
            f">= {target}x" if target else "",
        )
        if target:
            rows_ok(row, rate / local >= target)


def video_cases(loaded, pixels: np.ndarray, jpeg: np.ndarray) -> list[tuple]:
    """(label, signature, inputs, frame input name) for the video model: raw stream, then JPEG."""
    stream = loaded.signatures["stream"]
    cases = [
        ("stream, raw uint8", "stream", {"frames": pixels[np.newaxis], **stream_state(stream, "frames")}, "frames")
    ]
    jpeg_stream = next(
        (
            name
            for name, signature in loaded.signatures.items()
            if "frame_bytes" in signature.structured_input_signature[1]
            and len(signature.structured_input_signature[1]) > 1
        ),
        None,
    )
    if jpeg_stream:
        state = stream_state(loaded.signatures[jpeg_stream], "frame_bytes")
        png = encode_png(pixels)
        cases.append(
            (f"{jpeg_stream}, PNG b64 (default)", jpeg_stream, {"frame_bytes": png[np.newaxis], **state}, "frame_bytes")
        )
        cases.append(
            (f"{jpeg_stream}, JPEG b64", jpeg_stream, {"frame_bytes": jpeg[np.newaxis], **state}, "frame_bytes")
        )
    else:  # the contract's stream takes raw frames only: JPEG goes through `encoded`
        cases.append(
            (
                "encoded (stream has no bytes input), JPEG b64",
                "encoded",
                {"frame_bytes": jpeg[np.newaxis]},
                "frame_bytes",
            )
        )
    return cases


def image_cases(loaded, pixels: np.ndarray, jpeg: np.ndarray) -> list[tuple]:
    return [
        ("serving_default, raw uint8", "serving_default", {"images": pixels}, "images"),
        ("encoded, PNG b64 (default)", "encoded", {"image_bytes": encode_png(pixels)}, "image_bytes"),
        ("encoded, JPEG b64", "encoded", {"image_bytes": jpeg}, "image_bytes"),
    ]


def measure(
    client, loaded, model_name, signature_name, inputs, frame_input, args, columnar=True
) -> tuple[float, float]:
    """Requests/s of one signature on the same inputs through REST (columnar or row format) and in-process."""

    function = loaded.signatures[signature_name]
    state_names = [name for name in inputs if name != frame_input]
    state = {
        "rest": {name: inputs[name] for name in state_names},
        "local": {name: tf.constant(inputs[name]) for name in state_names},
    }

    def rest_call():
        outputs = client.predict(
            model_name,
            {frame_input: inputs[frame_input], **state["rest"]},
            signature_name=signature_name,
            columnar=columnar,
        )
        state["rest"] = {name: outputs[name] for name in state_names}  # carried, as classify-video does

    frames_tensor = tf.constant(inputs[frame_input])

    def local_call():
        outputs = function(**{frame_input: frames_tensor}, **state["local"])
        outputs["probabilities"].numpy()
        state["local"] = {name: outputs[name] for name in state_names}

    return timed(rest_call, args.seconds), timed(local_call, args.seconds)


if __name__ == "__main__":
    print(format_table(main(sys.argv[1:])))
