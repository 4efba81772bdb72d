"""The classification applications: ``make classify-video`` over files, folders and live streams
(readers, classifiers in-process or over REST, outputs, the page, the annotated video). May import
``common``, ``serving.export`` (the layout) and ``serving.rest`` (the client)."""
