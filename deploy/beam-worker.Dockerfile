# The library job's worker image for Dataflow, Flink and Spark (README, "Classifying a video archive
# on Apache Beam"): Beam's Python SDK image of the pinned Beam version, this project's requirements,
# the packages the workers import (common, models, serving) and the export they load the model from.
# Not built on the machine this project is developed on (no Docker engine there).
#
#   make train-video                   # export/video/<v>/ must exist: it is copied into the image
#   docker build -f deploy/beam-worker.Dockerfile -t REGION-docker.pkg.dev/PROJECT/REPO/classify-library .
#   docker push REGION-docker.pkg.dev/PROJECT/REPO/classify-library
#
# Pass the image to the job: Dataflow --sdk_container_image IMAGE; Flink and Spark
# --environment_type DOCKER --environment_config IMAGE. The job's relative --export-dir (default
# export, checked by the command where it starts) is found on the workers as /app/export.
FROM apache/beam_python3.11_sdk:2.77.0

WORKDIR /app
COPY requirements.txt .
# [gcp] and [aws]: gs:// and s3:// paths on the workers (the SDK image has Beam itself).
RUN pip install --no-cache-dir -r requirements.txt "apache-beam[gcp,aws]==2.77.0"
COPY common common
COPY models models
COPY serving serving
COPY export export
ENV PYTHONPATH=/app
