"""The classification applications: ``make classify-video`` over files, folders and live streams
(readers, classifiers in-process or over REST, outputs, the page, the annotated video) and ``make
classify-library`` over an archive, as an Apache Beam job that runs the same per-video code. May import
``common``, ``serving.export`` (the layout) and ``serving.rest`` (the client)."""
