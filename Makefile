# The course's two commands:
#   make lab    set everything up, then open the course in JupyterLab
#   make test   set everything up, then run the unit tests and every notebook (quick profile)
# Both are idempotent: the environment is rebuilt only when the lock or pyproject.toml changes.
# Others: setup, git-filter, prepare, unit, notebooks, sync, student, student-full, badges, site,
# benchmark, claims, lock, clean-venv.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.tl-installed
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json
SERVER_CONFIG := $(VENV)/etc/jupyter/jupyter_server_config.py
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
PYTEST_ARGS ?=
LAB_ARGS ?=
# JupyterLab refuses to run as root unless told; containers and cloud machines often are root.
LAB_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

# The data directory: $TL_DATA_DIR if set, else the shared offline copy beside the project.
ifeq ($(origin TL_DATA_DIR),undefined)
  ifneq ($(wildcard ../shared/data/MD5SUMS),)
    export TL_DATA_DIR := $(abspath ../shared/data)
  endif
endif
# On CI nothing may be downloaded: loaders use the files present and say what is missing.
ifneq ($(CI),)
  export TL_OFFLINE ?= 1
endif

.PHONY: lab test setup git-filter unit notebooks prepare sync student student-full badges site slides e2e benchmark claims lock clean-venv

# The venv's own JupyterLab, whose `python3` kernel (the one every notebook names) is the venv's
# Python: its kernelspec lives in the venv and says `python`, which Jupyter runs as the server's own
# interpreter. JUPYTER_PREFER_ENV_PATH puts the venv's kernels and settings before the user's.
lab: setup prepare
	cd notebooks && JUPYTER_PREFER_ENV_PATH=1 $(abspath $(VENV))/bin/jupyter lab 00_tour.ipynb $(LAB_ROOT) $(LAB_ARGS)

test: setup prepare unit notebooks

setup: $(STAMP) $(LAB_OVERRIDES) $(SERVER_CONFIG) git-filter

$(STAMP): requirements-lock.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "The course needs Python 3.10 or newer; found " + sys.version.split()[0] + ". Set PYTHON=/path/to/python3.11.")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet "pip>=24"
	$(PY) -m pip install --quiet -r requirements-lock.txt -e ".[dev]"
	@touch $(STAMP)
	@echo "Environment ready in $(VENV)."
	@$(VENV)/bin/jupyter kernelspec list 2>/dev/null | grep -q '^ *transfer-course ' && echo "Note: a kernel \
	'transfer-course' registered by an older setup is no longer used (the notebooks run on the venv's \
	python3); remove it with: jupyter kernelspec remove transfer-course" || true

# JupyterLab's defaults for this venv (lab/overrides.json): no "Jupyter news" pop-up, no update check.
$(LAB_OVERRIDES): lab/overrides.json $(STAMP)
	@mkdir -p $(dir $@)
	cp lab/overrides.json $@

# The venv's Jupyter server settings (lab/jupyter_server_config.py): a saved notebook that git sees as
# unchanged once cleaned is not listed by `git status`.
$(SERVER_CONFIG): lab/jupyter_server_config.py $(STAMP)
	@mkdir -p $(dir $@)
	cp lab/jupyter_server_config.py $@

# Notebooks reach git without outputs (scripts/nbstrip.py, .gitattributes); skipped outside a git checkout.
git-filter:
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	  git config filter.nbstrip.clean '$(PYTHON) scripts/nbstrip.py'; fi

# Build what several notebooks share (cached source models, extracted archives) once, up front.
prepare: setup
	$(PY) -m transfer_utils.prepare

unit: setup
	$(PY) -m pytest tests $(PYTEST_ARGS)

# Each notebook nbval runs is also saved with its outputs to build/executed/ (scripts/nbval_save.py), for `make site`.
notebooks: setup prepare
	$(PY) -m pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=900 -p no:cacheprovider \
	  -p scripts.nbval_save --save-executed=build/executed $(NOTEBOOKS) $(PYTEST_ARGS)

# Bring every notebook pair (.ipynb <-> .py) in step; the newer file wins.
sync: setup
	$(VENV)/bin/jupytext --sync notebooks/[0-9][0-9]_*.py

# The student copies student/NN_name.ipynb: the notebooks without their `solution` cells, outputs
# cleared (scripts/make_student.py; commit them). `make unit` checks they are up to date and executes
# each one cheaply: its setup cell and Exercises section, where only the unsolved stubs' checks may fail
# (tests/test_student.py; the cells before are the instructor's, which `make notebooks` runs).
student: setup
	$(PY) scripts/make_student.py

# Every student copy top to bottom instead (20-120 s a notebook; not part of `make test`).
# A subset: make student-full STUDENT_NOTEBOOKS="00 05"
STUDENT_NOTEBOOKS ?=
student-full: setup prepare
	TL_STUDENT_FULL=1 TL_STUDENT_NOTEBOOKS="$(STUDENT_NOTEBOOKS)" $(PY) -m pytest tests/test_student.py \
	  -k student_copy_runs -p no:cacheprovider $(PYTEST_ARGS)

# Every notebook's Colab and Binder badges and its Colab install line, from [tool.course] in pyproject.toml.
badges: setup
	$(PY) scripts/badges.py

# The course as a static HTML book in build/site/ (Sphinx + myst-nb), from the outputs `make notebooks`
# saved in build/executed/: nothing is executed again. Then checks it (scripts/check_site.py).
# A subset: make site SITE_NOTEBOOKS="00 10"
SITE_NOTEBOOKS ?=
site: setup
	$(PY) scripts/build_site.py $(if $(SITE_NOTEBOOKS),--notebooks $(SITE_NOTEBOOKS))

# Lecture slides (reveal.js) in build/slides/NN_name.slides.html: each notebook's cells marked with
# slideshow metadata, with the figures of the run `make notebooks` saved in build/executed/ (nothing is
# executed; without an executed copy a deck has no figures, and SLIDES_ARGS=--require-executed makes that
# an error). reveal.js comes from a CDN unless REVEAL_PREFIX names a local copy. A subset: SLIDES_NOTEBOOKS="01 09"
SLIDES_NOTEBOOKS ?=
SLIDES_ARGS ?=
REVEAL_PREFIX ?=
slides: setup
	$(PY) scripts/build_slides.py $(if $(SLIDES_NOTEBOOKS),--notebooks $(SLIDES_NOTEBOOKS)) \
	  $(if $(REVEAL_PREFIX),--reveal-prefix $(REVEAL_PREFIX)) $(SLIDES_ARGS)

# A real-browser test (scripts/e2e.py): JupyterLab started by `make lab`, driven by a headless Chromium
# through Playwright's Python API (a dev extra), runs notebooks 00 and 01, moves a slider, checks that
# no kernel picker or error appears and that git stays clean; screenshots go to build/e2e/ (with the
# site's, after `make site`). Chromium is the system's (no browser is downloaded): installed with
# apt-get when missing and root (with a CJK font, for the site's Chinese), otherwise it says what to
# install. E2E_ARGS="--make-arg=VAR=value".
CHROMIUM ?= /usr/bin/chromium
E2E_ARGS ?=
e2e: setup
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk; \
	  fi; \
	  test -x "$(CHROMIUM)" || { echo "make e2e needs Chromium at $(CHROMIUM): install Debian's chromium \
	package (sudo apt-get install chromium), or set CHROMIUM=/path/to/chromium."; exit 2; }; fi
	@$(PY) -c 'import playwright' 2>/dev/null || $(PY) -m pip install --quiet "playwright>=1.40,<2"
	$(PY) scripts/e2e.py --chromium "$(CHROMIUM)" --make-arg=VENV=$(VENV) --make-arg=PYTHON=$(PYTHON) $(E2E_ARGS)

benchmark: setup prepare
	$(PY) scripts/benchmark.py --update-readme

# The claims sweep: every asserted claim over disjoint seed sets, CPU kernels and thread counts
# (not part of `make test`; about 35 min for the whole course on 2 cores). CLAIMS_ARGS="notebooks/04_what_transfers.py --runs 2"
CLAIMS_ARGS ?=
claims: setup prepare
	$(PY) scripts/claims.py --update-readme $(CLAIMS_ARGS)

# Re-pin from the project environment; add other Pythons' environments with LOCK_PYTHONS=...
lock: setup
	$(PY) scripts/make_lock.py $(LOCK_PYTHONS)

clean-venv:
	rm -rf $(VENV)
