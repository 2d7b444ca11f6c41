# The kit's commands. `make reproduce` runs the main job, `make test` the tests;
# both create .venv and install the kit into it on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= synthetic
OUT ?= runs/$(PROFILE)
# torch / torchvision pinned on the pip path (the conda environment.yml may be looser).
TORCH_PINS := torch==2.14.1 torchvision==0.29.1

.PHONY: install reproduce test notebooks benchmark gpu-check viewer lab clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet $(TORCH_PINS)
	$(PY) -m pip install --quiet -e ".[dev]" $(TORCH_PINS)
	# MTCNN for data_prep/align_faces.py: its wheel carries the detector's weights; its metadata pins an
	# old torch that the detector does not need, so it is installed without its dependencies.
	$(PY) -m pip install --quiet --no-deps facenet-pytorch==2.6.0
	$(PY) -m ipykernel install --prefix $(VENV) --name python3 >/dev/null
	touch $@

## The main job: every notebook under $(PROFILE), headless, outputs in $(OUT).
reproduce: install
	$(PY) -m ppcl.pipeline.reproduce --profile $(PROFILE) --out $(OUT)

## Unit tests, the package's doctests, then every notebook re-executed under the smoke profile by nbval (in a fresh run folder).
test: install
	@out=$$(mktemp -d); trap 'rm -rf "$$out"' EXIT; \
	PPCL_PROFILE=smoke PPCL_OUT=$$out $(PY) -m pytest tests ppcl notebooks --doctest-modules --nbval \
	  --nbval-sanitize-with notebooks/sanitize.cfg -p no:cacheprovider

## Re-execute the committed notebooks in place under the smoke profile (their stored outputs).
notebooks: install
	@out=$$(mktemp -d); trap 'rm -rf "$$out"' EXIT; cd notebooks && for nb in [0-9]*.ipynb; do \
	  PPCL_PROFILE=smoke PPCL_OUT=$$out ../$(PY) -m jupyter nbconvert --to notebook --execute --inplace $$nb || exit 1; done

## The correspondence viewer (notebook 06) as a web page: Voilà on a free loopback port, the URL printed.
## PROFILE / OUT as for reproduce; RUN=<a finished run folder> opens that run's models instead;
## GALLERY=<a folder of your images> QUERY=<your partial image> CHECKPOINT=<a PPCL .pt> opens your own images.
viewer: install
	@port=$$($(PY) -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'); \
	echo "correspondence viewer: http://127.0.0.1:$$port/  (profile $(PROFILE); Ctrl-C stops it)"; \
	PPCL_PROFILE=$(PROFILE) PPCL_OUT=$(abspath $(OUT)) PPCL_RUN_FOLDER=$(if $(RUN),$(abspath $(RUN))) \
	PPCL_GALLERY_FOLDER="$(if $(GALLERY),$(abspath $(GALLERY)))" PPCL_QUERY_IMAGE="$(if $(QUERY),$(abspath $(QUERY)))" \
	PPCL_CHECKPOINT="$(if $(CHECKPOINT),$(abspath $(CHECKPOINT)))" \
	  $(PY) -m voila notebooks/06_correspondence_viewer.ipynb --no-browser --Voila.ip=127.0.0.1 --port=$$port --Voila.port_retries=0

## JupyterLab in the kit's environment (its kernel is the kit's .venv), on the notebooks.
lab: install
	PPCL_PROFILE=$(PROFILE) PPCL_OUT=$(abspath $(OUT)) $(PY) -m jupyter lab --ServerApp.root_dir=notebooks --ip=127.0.0.1 --no-browser $(if $(filter 0,$(shell id -u)),--allow-root)

benchmark: install
	$(PY) benchmarks/run.py

## The device check: every notebook under the paper profile's networks on a real-layout tree, on CUDA with AMP,
## cut to about 6 minutes of one GPU; writes runs/device-check/device-check.json (make test runs it shrunk on the CPU).
gpu-check: install
	$(PY) -m ppcl.pipeline.devicecheck --out runs/device-check

clean:
	rm -rf runs .pytest_cache
