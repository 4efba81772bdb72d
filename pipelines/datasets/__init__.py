"""Dataset sources: embedded TFDS builders, folders, CSV files and ``tfds:NAME``."""
