"""Whether the hosts that datasets and pretrained weights download from answer, within seconds.

``tfds.load`` of an unprepared dataset and Keras's ``weights="imagenet"`` wait minutes on a machine
without a network before they fail; asking first turns that into one clear line within seconds.
"""

from __future__ import annotations

import socket

# TFDS's dataset metadata and Keras's pretrained weights are both served from Google Cloud Storage.
DOWNLOAD_HOSTS = (("storage.googleapis.com", 443),)


def downloads_reachable(timeout: float = 3.0) -> bool:
    """True when one of the download hosts accepts a connection within ``timeout`` seconds."""
    for host, port in DOWNLOAD_HOSTS:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return True
        except OSError:
            continue
    return False
