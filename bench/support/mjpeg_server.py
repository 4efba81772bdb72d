"""A live stream on loopback for tests and benchmarks: the frames of a real file as MJPEG over HTTP, at real time.

    with MjpegServer("clip.mp4", fps=30, max_frames=300) as server:
        server.url        # http://127.0.0.1:PORT/stream.mjpg
        ...               # a client connects; frames go out one every 1/fps s from its connection on
        server.sent       # frames sent so far on the latest connection

Standard library only (``http.server``): ``multipart/x-mixed-replace`` parts of one JPEG each,
which FFmpeg (so OpenCV) opens as an ``mpjpeg`` stream. The frames are decoded and JPEG-encoded
before serving, so the server costs next to nothing while it streams; each frame goes out at its
own deadline (``start + index / fps``), never in bursts. It binds 127.0.0.1 only. Each connection
gets the stream from its first frame (a client may probe, then reconnect) until one has had every
frame; the connection then closes (the client sees the stream end) and later ones get 404, as a
live source that has gone away.
"""

from __future__ import annotations

import http.server
import sys
import threading
import time

import cv2

BOUNDARY = b"frame"


class MjpegServer:
    def __init__(self, video: str, fps: float = 30.0, max_frames: int | None = None, quality: int = 90):
        capture = cv2.VideoCapture(str(video))
        self.jpegs: list[bytes] = []
        while max_frames is None or len(self.jpegs) < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            self.jpegs.append(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes())
        capture.release()
        if not self.jpegs:
            raise ValueError(f"no frames decoded from {video}")
        self.fps = fps
        self.sent = 0
        self.sent_times: list[float] = []  # time.monotonic() when each frame was written
        self.done = threading.Event()  # set once a connection has had every frame
        self._lock = threading.Lock()
        self._connections = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                if server.done.is_set():
                    self.send_error(404, "the stream has ended")
                    return
                with server._lock:  # a connection that went away (a probe) may still be winding down
                    server._connections += 1
                    me = server._connections
                    server.sent, server.sent_times = 0, []
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace;boundary={BOUNDARY.decode()}")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                start = time.monotonic()
                try:
                    for index, jpeg in enumerate(server.jpegs):
                        delay = start + index / server.fps - time.monotonic()
                        if delay > 0:
                            time.sleep(delay)
                        head = b"--%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % (BOUNDARY, len(jpeg))
                        self.wfile.write(head + jpeg + b"\r\n")
                        self.wfile.flush()
                        with server._lock:
                            if me != server._connections:
                                return  # a newer connection has taken over
                            server.sent_times.append(time.monotonic())
                            server.sent += 1
                    server.done.set()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    self.close_connection = True

            def log_message(self, *args):  # quiet
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/stream.mjpg"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="mjpeg-server", daemon=True)

    def __enter__(self) -> MjpegServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


if __name__ == "__main__":  # python -m bench.support.mjpeg_server VIDEO: serve it until Ctrl-C
    with MjpegServer(sys.argv[1]) as running:
        print(running.url, flush=True)
        running.done.wait()
