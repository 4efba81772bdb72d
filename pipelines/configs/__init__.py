"""Every pipeline's typed config: nested dataclasses (data, model, training) and their presets.
May import ``common``, ``models`` (what a backbone needs) and ``pipelines.datasets``' checks that run
without TensorFlow; imports no other part of ``pipelines``."""
