# Two entry points for a fresh machine:
#   make lab   - make .venv with the learner's requirements, then open JupyterLab on labs/
#   make test  - make .venv with the developer's requirements, then run every test (notebooks too)
# and one for the instructor:
#   make grade SUBMISSIONS=path/ [OUT=grades.csv] - grade submitted labs (docs/instructor.md)
# The venv is rebuilt only when a requirements file (or pyproject.toml) changes: each
# requirements set leaves a stamp file in .venv that depends on the files it was made from.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
# Jupyter refuses to start as root (containers, some JupyterHub images) unless told to.
JUPYTER_FLAGS ?= $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: lab test labs grade grade-args clean

lab: $(VENV)/.stamp-lab
	$(BIN)/jupyter lab $(JUPYTER_FLAGS) labs/

test: $(VENV)/.stamp-dev
	$(BIN)/python -m pytest

# Regenerate labs/ from solutions/ (labs/ is never edited by hand).
labs: $(VENV)/.stamp-lab
	$(BIN)/python scripts/make_labs.py

# Grade SUBMISSIONS/<learner>/<NN-slug>.ipynb with nbgrader (offline): writes $(OUT), one row per
# learner with points per exercise and totals, and feedback/<learner>/<NN-slug>.html next to it.
SUBMISSIONS ?=
OUT ?= grades.csv
grade: grade-args $(VENV)/.stamp-dev
	$(BIN)/python -m esmlab.course.grading "$(SUBMISSIONS)" --out "$(OUT)"

grade-args:
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=path/ [OUT=grades.csv]" >&2; exit 2; }

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.stamp-lab: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -r requirements.txt
	touch $@

$(VENV)/.stamp-dev: requirements-dev.txt requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -r requirements-dev.txt
	touch $@ $(VENV)/.stamp-lab   # the dev set includes the learner's set

clean:
	rm -rf $(VENV)
