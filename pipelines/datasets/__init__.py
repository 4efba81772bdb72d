"""Dataset sources: embedded TFDS builders, folders, CSV files and ``tfds:NAME``."""


def check_tfds_name(dataset: str) -> None:
    """Refuses a ``DATASET=tfds:NAME`` that TFDS does not know, or that is neither prepared nor
    downloadable; other values pass. The configs call it from ``validate``: TFDS looks names up without
    TensorFlow, so the mistake fails in a second, not ten (``tfds_source`` is imported only then)."""
    if dataset.startswith("tfds:"):
        from pipelines.datasets import tfds_source

        tfds_source.check_tfds_dataset(dataset[len("tfds:") :])
