"""Whether the hosts that datasets and pretrained weights download from answer, within seconds.

``tfds.load`` of an unprepared dataset and Keras's ``weights="imagenet"`` wait minutes on a machine
without a network before they fail; asking first turns that into one clear line within seconds.
``NO_DOWNLOADS=1`` in the environment answers "unreachable" without asking (air-gapped machines; the
tests, which must not depend on a network).
"""

from __future__ import annotations

import os
import socket

# TFDS's dataset metadata and Keras's pretrained weights are both served from Google Cloud Storage.
DOWNLOAD_HOSTS = (("storage.googleapis.com", 443),)


def downloads_reachable(timeout: float = 3.0) -> bool:
    """True when one of the download hosts accepts a connection within ``timeout`` seconds (never with
    ``NO_DOWNLOADS=1``)."""
    if os.environ.get("NO_DOWNLOADS", "") not in ("", "0"):
        return False
    for host, port in DOWNLOAD_HOSTS:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return True
        except OSError:
            continue
    return False
