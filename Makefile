# Two commands a newcomer needs: `make lab` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SANITIZE := --nbval-sanitize-with tests/sanitize.cfg
NOTEBOOKS := notebooks

.PHONY: help setup lab lint test test-fast test-unit test-exercises test-notebooks test-notebooks-mosquitto test-browser test-shared-broker test-lessons test-pythons notebooks img screenshots bench classroom clean site test-no-make

help:
	@echo "make lab      set up .venv and open JupyterLab on the notebooks"
	@echo "make test     set up .venv, lint, and run every test, notebooks included"
	@echo "make lint     ruff (lint and format check, notebooks' code cells too) and mypy (strict) on the package, tests, scripts and benchmarks"
	@echo "make test-exercises  every exercise's self-check against right and wrong answers, on both brokers"
	@echo "make test-fast  the unit tests without the slow soak-style ones (an inner loop of ~30 s)"
	@echo "make test-shared-broker  lessons and solutions twice in a row on one Mosquitto, then one classroom learner's port"
	@echo "make test-pythons  the tests and lessons on every other supported Python (3.10-3.13)"
	@echo "make notebooks  re-execute every notebook in place (regenerates stored outputs)"
	@echo "make img      regenerate the diagrams in img/"
	@echo "make screenshots  regenerate the JupyterLab screenshots in img/ (needs Chromium)"
	@echo "make bench    compare the embedded broker with mosquitto"
	@echo "make test-no-make  follow the README's set-up without make on a fresh clone, then run notebook 00"
	@echo "make site     build the website of the series (README and notebooks, stored outputs) into build/site"
	@echo "make classroom LEARNERS=alice,bob  one broker for a class (CLASSROOM_HOST=0.0.0.0 opens it to the network; CLASSROOM_BROKER=mosquitto for large classes)"

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python 3.10+ is needed; found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@

setup: $(STAMP)

# Root stays the repo (notebooks link to ../img); the series opens at its first lesson.
# jupyter-config/ holds the project's JupyterLab defaults (no "Jupyter news?" pop-up); the user's own settings still win.
# tests/browser starts JupyterLab with this same command (`make -n lab`).
LAB_FLAGS ?= $(if $(filter 0,$(shell id -u)),--allow-root)
LAB_ENV := JUPYTER_CONFIG_PATH="$(CURDIR)/jupyter-config$(if $(JUPYTER_CONFIG_PATH),:$(JUPYTER_CONFIG_PATH))"
lab: setup
	$(LAB_ENV) $(VENV)/bin/jupyter lab --ServerApp.root_dir=. $(LAB_FLAGS) $(NOTEBOOKS)/00-getting-started.ipynb

# Configuration in pyproject.toml ([tool.ruff], [tool.mypy]).
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy mqtt_helpers tests scripts benchmarks
	$(VENV)/bin/actionlint  # .github/workflows

test: lint test-unit test-exercises test-notebooks test-browser

test-unit: setup
	$(PY) -m pytest tests --ignore=tests/browser --ignore=tests/setup --ignore=tests/test_exercises.py

# Every exercise's self-check against empty, official, wrong and right answers, each in a fresh kernel, on both
# brokers (tests/test_exercises.py): hundreds of kernels, so once, on the default Python only, two at a time.
test-exercises: setup
	$(PY) -m pytest -n 2 tests/test_exercises.py

# The lessons in real JupyterLab and Chromium (skipped without Chromium, failing under CI=true).
test-browser: setup
	$(PY) -m pytest tests/browser

test-fast: setup
	$(PY) -m pytest -m "not slow" tests --ignore=tests/browser

test-notebooks: setup
	$(PY) -m pytest --nbval $(SANITIZE) $(NOTEBOOKS)

# The same stored outputs must hold on the reference broker.
test-notebooks-mosquitto: setup
	MQTT_STUDY_BROKER=mosquitto $(PY) -m pytest --nbval $(SANITIZE) $(NOTEBOOKS)

# On a shared broker state outlives a notebook: every lesson must leave no retained message, session or will.
test-shared-broker: setup
	$(PY) -m scripts.shared_broker_check --solutions
	$(PY) -m scripts.shared_broker_check --solutions --classroom

# The lessons only (not the solutions), as on the Pythons other than the default one.
test-lessons: setup
	$(PY) -m pytest --nbval $(SANITIZE) $(NOTEBOOKS)/*.ipynb

# `make test` covers $(PYTHON); this tests the other supported versions, each in .venv-3.X.
# PYTHONS="3.12 3.13" picks some; an interpreter not found fails the run only under CI=true.
test-pythons:
	PYTHON=$(PYTHON) MAKE=$(MAKE) bash scripts/test_pythons.sh $(PYTHONS)

notebooks: setup
	$(PY) scripts/make_solutions.py $(NOTEBOOKS)
	$(PY) scripts/run_notebooks.py $(NOTEBOOKS)

img: setup
	$(PY) scripts/make_diagrams.py img

screenshots: setup
	$(PY) -m scripts.screenshots img

bench: setup
	$(PY) benchmarks/broker_bench.py

# One port per learner, each a private namespace; the teacher's port sees all (see README, For teachers).
LEARNERS ?=
CLASSROOM_HOST ?= 127.0.0.1
CLASSROOM_BROKER ?= $(or $(MQTT_CLASSROOM_BROKER),amqtt)
classroom:
	@test -n "$(LEARNERS)" || { echo "say who is in the class: make classroom LEARNERS=alice,bob" >&2; exit 2; }
	@$(MAKE) -s --no-print-directory setup
	$(PY) -m mqtt_helpers.classroom --learners '$(LEARNERS)' --host '$(CLASSROOM_HOST)' --broker '$(CLASSROOM_BROKER)'

# The website: the README and every notebook with its stored outputs (never re-executed), built offline by Sphinx
# with MyST-NB (docs/conf.py). Its packages are the `site` extra, installed here only. SITE=DIR builds elsewhere.
SITE ?= build/site
SITE_STAMP := $(VENV)/.installed-site
$(SITE_STAMP): pyproject.toml | $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,site]'
	@touch $@

# The README's set-up without make, followed on a fresh clone (git clone of this repository's last commit) in a new
# venv, then notebook 00 under strict nbval; ~2-3 min, so CI runs it once, on the default Python.
test-no-make: setup
	$(PY) -m pytest tests/setup

site: $(SITE_STAMP)
	$(VENV)/bin/sphinx-build -q -W --keep-going -b html -c docs -d "$(SITE)-doctrees" . "$(SITE)"
	@echo "site built: $(SITE)/index.html"

clean:
	rm -rf $(VENV) .venv-3.* .pytest_cache
