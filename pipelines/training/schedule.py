"""When training cuts the learning rate and stops: one rule for Keras's ``fit`` and the multi-worker loop."""

from __future__ import annotations

# ReduceLROnPlateau on the validation loss: the rate times this factor after a plateau.
REDUCE_FACTOR = 0.3
# The smallest decrease of the validation loss that counts as progress for the plateau (Keras's default).
MIN_DELTA = 1e-4


def plateau_patience(patience: int) -> int:
    """Epochs without progress before the rate is cut: half the early-stopping ``patience``, at least 1."""
    return max(1, patience // 2)
