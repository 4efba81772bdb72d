"""Serving: ``export/`` (writes SavedModels in TF Serving's layout; the pipelines call it), ``rest/``
(the REST server, codec, model repository and client) and ``classify/`` (the classification
applications). May import ``common`` and ``models``; never ``pipelines``."""
