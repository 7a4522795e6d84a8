# The two commands of the README. Everything installs into .venv from constraints.txt (the pinned, known-good set).
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python

.PHONY: setup test book

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

# (1) the main job: every chapter at the default profile (gpu with CUDA, else cpu), then the HTML book.
#     PROFILE=smoke|cpu|gpu|paper picks another profile.
book: setup
	$(VENV)/bin/lsgan-book run $(if $(PROFILE),--profile $(PROFILE))
	$(VENV)/bin/lsgan-book build
