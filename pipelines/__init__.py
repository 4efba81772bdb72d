"""From data to a trained, exported model: ``datasets/`` (the sources), ``configs/`` (typed configs),
``training/`` and ``evaluation/``, the ``report/``, and one entry module per pipeline (``image``,
``text``, ``textgen``, ``video``, ``compare_rnn``) with ``main(argv)``. May import ``common``,
``models`` and ``serving.export``; nothing imports it but ``bench``."""
