"""The embedded datasets, generated offline: their renderers and TFDS builders (``make data``).
Imports only ``common`` and each other; needs no TensorFlow to render."""
