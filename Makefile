# Every target that needs Python bootstraps .venv from requirements.txt on first use and
# rebuilds it whenever requirements.txt changes. `make help` lists the targets.

SHELL := bash
PYTHON_BOOTSTRAP ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements.stamp

DATASET ?=
EPOCHS ?=
PRESET ?= default
CELL ?=
ARGS ?=
VIDEO ?=
IMAGE ?=
INPUT ?=
BEAM_ARGS ?= --direct_num_workers=2
MODEL ?= video
VERSION ?=
SERVER ?=
OUT ?=
PORT ?= 8501
HOST ?= 127.0.0.1
PYTEST_ARGS ?=
PYTEST_WORKERS ?= 2
PROMPT ?=
LENGTH ?=
TEMPERATURE ?=
SEED ?=
TOP_K ?=
WORKERS ?=

export PYTHONPATH := $(CURDIR)

# Flags shared by the train targets; empty values are left out so presets apply.
TRAIN_FLAGS = --preset $(PRESET) $(if $(DATASET),--dataset "$(DATASET)") $(if $(EPOCHS),--epochs $(EPOCHS)) $(if $(WORKERS),--strategy multi_worker) $(ARGS)
# WORKERS=N: N local workers of one multi-worker job (pipelines/training/launcher.py), each with its own TF_CONFIG.
LAUNCH = $(if $(WORKERS),$(PY) -m pipelines.training.launcher --workers $(WORKERS) --)
TEXT_FLAGS = $(if $(CELL),--cell $(CELL)) $(if $(TEXT_COLUMN),--text-column "$(TEXT_COLUMN)") $(if $(LABEL_COLUMN),--label-column "$(LABEL_COLUMN)")

.DEFAULT_GOAL := help
.PHONY: help venv data train-image train-text compare-rnn train-textgen generate train-video classify-video classify-image classify-library export-lite serve bench report test test-all lint clean

help:  ## list the targets
	@echo "Targets (variables: DATASET EPOCHS PRESET=default|tiny CELL=gru|lstm[|simple_rnn] WORKERS=N ARGS=...):"
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  make \1\t\2/' | expand -t 24

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON_BOOTSTRAP) -m venv $(VENV)
	@echo "installing requirements into $(VENV) (first run takes a minute or two)"
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt 2>&1 | grep -v "^WARNING: Location"; test $${PIPESTATUS[0]:-0} -eq 0
	@cp requirements.txt $(STAMP)

venv: $(STAMP)  ## create or refresh .venv from requirements.txt

data: $(STAMP)  ## generate the embedded datasets in parallel (otherwise done on first use)
	$(PY) -m pipelines.datasets.prepare

train-image: $(STAMP)  ## train, evaluate and export the image CNN
	$(LAUNCH) $(PY) -m pipelines.image $(TRAIN_FLAGS)

train-text: $(STAMP)  ## train, evaluate and export the GRU/LSTM text classifier
	$(LAUNCH) $(PY) -m pipelines.text $(TRAIN_FLAGS) $(TEXT_FLAGS)

compare-rnn: $(STAMP)  ## SimpleRNN vs LSTM vs GRU accuracy over distance (table + plot in runs/compare_rnn/)
	$(PY) -m pipelines.compare_rnn --preset $(PRESET) $(if $(EPOCHS),--epochs $(EPOCHS)) $(ARGS)

train-textgen: $(STAMP)  ## train and export the character-level GRU/LSTM text generator (export/textgen/)
	$(LAUNCH) $(PY) -m pipelines.textgen $(TRAIN_FLAGS) $(if $(CELL),--cell $(CELL)) $(if $(TEXT_COLUMN),--text-column "$(TEXT_COLUMN)")

generate: $(STAMP)  ## continue PROMPT=... with the latest textgen export (LENGTH TEMPERATURE SEED TOP_K)
	$(PY) -m pipelines.textgen generate --prompt "$(PROMPT)" $(if $(LENGTH),--length $(LENGTH)) $(if $(TEMPERATURE),--temperature $(TEMPERATURE)) $(if $(SEED),--seed $(SEED)) $(if $(TOP_K),--top-k $(TOP_K)) $(ARGS)

train-video: $(STAMP)  ## train, evaluate and export the CNN+LSTM video model
	$(LAUNCH) $(PY) -m pipelines.video $(TRAIN_FLAGS) $(if $(CELL),--cell $(CELL))

classify-video: $(STAMP)  ## label every frame of VIDEO=file|folder/|stream URL|camera index (MODEL SERVER OUT ARGS="--annotate", "--runtime litert")
	@test -n "$(VIDEO)" || { echo "error: give the video: make classify-video VIDEO=path/to/clip.mp4 (or a folder, a stream URL, a camera index)" >&2; exit 2; }
	$(PY) -m serving.classify.video "$(VIDEO)" --model $(MODEL) $(if $(SERVER),--server "$(SERVER)") $(if $(OUT),--out "$(OUT)") $(ARGS)

classify-image: $(STAMP)  ## top classes of IMAGE=photo|folder/ with the image model (SERVER OUT ARGS="--explain", "--runtime litert")
	@test -n "$(IMAGE)" || { echo "error: give the photo: make classify-image IMAGE=path/to/photo.jpg (or a folder of photos)" >&2; exit 2; }
	$(PY) -m serving.classify.image "$(IMAGE)" $(if $(SERVER),--server "$(SERVER)") $(if $(OUT),--out "$(OUT)") $(ARGS)

classify-library: $(STAMP)  ## classify every video INPUT='glob' matches, as an Apache Beam job, into OUT=dir (MODEL SERVER BEAM_ARGS ARGS)
	@test -n "$(INPUT)" || { echo "error: give the videos: make classify-library INPUT='videos/**' OUT=runs/library (quote the glob)" >&2; exit 2; }
	@test -n "$(OUT)" || { echo "error: give the output folder: make classify-library INPUT='$(INPUT)' OUT=runs/library" >&2; exit 2; }
	$(PY) -m serving.classify.library "$(INPUT)" --out "$(OUT)" --model $(MODEL) $(if $(SERVER),--server "$(SERVER)") $(BEAM_ARGS) $(ARGS)

export-lite: $(STAMP)  ## the latest MODEL=video|image export as LiteRT float32/float16/int8 .tflite files: export/<name>_lite/<version>/ (VERSION ARGS)
	$(PY) -m pipelines.litert.export --model $(MODEL) $(if $(VERSION),--version $(VERSION)) $(ARGS)

serve: $(STAMP)  ## serve every model under export/ over TF Serving's REST API on PORT
	$(PY) -m serving.rest.serve --port $(PORT) --host $(HOST) $(ARGS)

bench: $(STAMP)  ## run the benchmarks and print their ratios
	$(PY) -m bench $(ARGS)

report: $(STAMP)  ## the five ideas measured and pictured: runs/report/index.html + report.md (PRESET=tiny: smoke test)
	$(PY) -m pipelines.report --preset $(PRESET) $(ARGS)

test: $(STAMP)  ## the test suite, PYTEST_WORKERS=2 processes (slow tests excluded; see test-all)
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist loadscope --no-loadscope-reorder $(PYTEST_ARGS)

test-all: $(STAMP)  ## the test suite including slow tests
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist loadscope --no-loadscope-reorder --run-slow $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff check and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:  ## remove outputs (runs/, export/), keep .venv and generated data
	rm -rf runs export
