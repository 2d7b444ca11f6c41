# The kit's commands. `make reproduce` runs the main job, `make test` the tests;
# both create .venv and install the kit into it on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= synthetic
OUT ?= runs/$(PROFILE)
# torch / torchvision pinned on the pip path (the conda environment.yml may be looser).
TORCH_PINS := torch==2.14.1 torchvision==0.29.1

.PHONY: install reproduce test notebooks benchmark clean

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
	$(PY) -m ppcl.reproduce --profile $(PROFILE) --out $(OUT)

## Unit tests, the package's doctests, then every notebook re-executed under the smoke profile by nbval (in a fresh run folder).
test: install
	@out=$$(mktemp -d); trap 'rm -rf "$$out"' EXIT; \
	PPCL_PROFILE=smoke PPCL_OUT=$$out $(PY) -m pytest tests ppcl notebooks --doctest-modules --nbval \
	  --nbval-sanitize-with notebooks/sanitize.cfg -p no:cacheprovider

## Re-execute the committed notebooks in place under the smoke profile (their stored outputs).
notebooks: install
	@out=$$(mktemp -d); trap 'rm -rf "$$out"' EXIT; cd notebooks && for nb in [0-9]*.ipynb; do \
	  PPCL_PROFILE=smoke PPCL_OUT=$$out ../$(PY) -m jupyter nbconvert --to notebook --execute --inplace $$nb || exit 1; done

benchmark: install
	$(PY) benchmarks/run.py

clean:
	rm -rf runs .pytest_cache
