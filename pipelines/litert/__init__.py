"""``make export-lite``: a trained export as LiteRT files for devices. ``export`` (the job, ``main``),
``rebuild`` (the export's Keras model, from its config and variables), ``calibration`` (int8 samples
with carried states, from the export's training data)."""
