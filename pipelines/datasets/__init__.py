"""Dataset sources: the embedded datasets (``embedded/``), folders of class folders, CSV/TSV files
and ``tfds:NAME``, each as labelled splits; the one tf.data order (``pipeline``). May import
``common`` only (the models' preprocessing is mirrored, not imported)."""
