"""The export: everything that writes a SavedModel (signatures, atomic publish in TF Serving's layout,
the fresh-process check, warm-up requests) and reads that layout. The pipelines call it. May import
``common`` and ``models``."""
