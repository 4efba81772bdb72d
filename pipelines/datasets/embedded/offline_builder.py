"""The base of the embedded TFDS builders: datasets generated here, offline, with nothing to download."""

from __future__ import annotations

import tensorflow_datasets as tfds


class OfflineBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """A ``GeneratorBasedBuilder`` whose data is rendered locally.

    TFDS prints a download notice to stdout before and after preparing ("Downloading and preparing
    dataset Unknown size (download: Unknown size, ...)"), which says nothing true of generated data;
    ``tfds_source.prepared_builder`` logs its own line instead.
    """

    def _log_download_bytes(self) -> None:
        pass

    def _log_download_done(self) -> None:
        pass
