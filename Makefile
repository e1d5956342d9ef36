# Shortcuts for dev.py (make is optional: dev.py needs only Python 3.11+). Every target but
# dev and prod creates .venv and installs relier with its development tools first.
# Extra arguments: make test ARGS="tests/unit -x", make bench ARGS="recovery".
PYTHON ?= python3
ARGS ?=

.PHONY: setup demo dev prod test test-integration lint typecheck check bench

setup:             ## create .venv and install relier with its development tools
	$(PYTHON) dev.py setup
demo:              ## an embedded server, workers, resurrector and traffic, in `rl tui`
	$(PYTHON) dev.py demo $(ARGS)
dev:               ## the development stack in Docker Compose (deploy/compose/dev.yml)
	$(PYTHON) dev.py compose dev $(ARGS)
prod:              ## the production stack in Docker Compose (needs deploy/compose/prod.env)
	$(PYTHON) dev.py compose prod $(ARGS)
test:              ## the whole suite, as CI runs it
	$(PYTHON) dev.py test $(ARGS)
test-integration:  ## the integration tests only (real servers and workers)
	$(PYTHON) dev.py test tests/integration $(ARGS)
lint:              ## ruff check .
	$(PYTHON) dev.py lint $(ARGS)
typecheck:         ## mypy, strict
	$(PYTHON) dev.py typecheck $(ARGS)
check:             ## lint, typecheck and the unit tests: the quick check before a commit
	$(PYTHON) dev.py check $(ARGS)
bench:             ## python -m bench: the benchmarks beside vanilla Celery
	$(PYTHON) dev.py bench $(ARGS)
