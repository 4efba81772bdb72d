"""The REST side: TF Serving's REST API in a development server, its JSON codec, the model repository
it serves from, ``make serve`` and a client. May import ``common`` and ``serving.export``."""
