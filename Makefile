# The two commands of the README. Everything installs into .venv from constraints.txt (the pinned, known-good set).
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python

.PHONY: setup test book serve

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[test]"
	touch $@

# the widget JavaScript the static book ships (require.js, the Jupyter widget manager); see package.json
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.installed node_modules/.installed

# (2) the tests: unit tests, then every chapter at the smoke profile through papermill and the book through jupyter-book
test: setup
	$(PY) -m pytest -q

# (1) the main job: the image data sets the chapters read (downloaded into data/ where missing, unless LSGAN_DATA
#     names a folder: then that folder is used as it is), every chapter at the default profile (gpu with CUDA, else
#     cpu), then the HTML book. PROFILE=smoke|quick|cpu|gpu|paper picks another profile. Only cpu, gpu and paper
#     write the published chapters in book/; smoke and quick write _build/runs/<profile>/ and build their own copy.
PUBLISHING := cpu gpu paper
UNPUBLISHED = $(filter-out $(PUBLISHING),$(PROFILE))
book: setup
	$(if $(LSGAN_DATA),,$(VENV)/bin/lsgan-book data all --if-missing)
	$(VENV)/bin/lsgan-book run $(if $(PROFILE),--profile $(PROFILE))
	$(VENV)/bin/lsgan-book build $(if $(UNPUBLISHED),--chapters _build/runs/$(PROFILE))

# read the built book at http://127.0.0.1:8000/ (the sliders need http://; file:// blocks their script)
serve: setup
	$(VENV)/bin/lsgan-book serve $(if $(UNPUBLISHED),--dir _build/runs/$(PROFILE)/site/_build/html)
