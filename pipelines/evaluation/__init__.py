"""How models are scored: classification metrics, per-video and per-frame scores, classical
baselines. May import ``common`` and ``models``."""
