# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
OUT    ?= out/simulate

.PHONY: run test lint bench bench-server bench-gapfill install system-deps clean lambda-zip

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# The CPU build of PyTorch first: an unpinned torch would pull a multi-GB CUDA build.
	$(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -e ".[rl,serve,models,experiments,dev]"
	touch $@

system-deps:  ## Debian packages the tests drive (Chromium for the browser tests)
	bash scripts/system-deps.sh

install: $(VENV)/.installed

run: install  ## the main job on embedded defaults
	$(VENV)/bin/skyroute simulate --trace default --policy all --out $(OUT)

test: install system-deps  ## lint, type-check and the whole test suite
	bash scripts/services.sh
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -n 2 --durations=15 tests

bench: install  ## measured figures for docs/benchmarks.md
	taskset -c 0 $(PY) benchmarks/bench_simulator.py

bench-server: install  ## open-loop decision server table (BENCH_ARGS=--quick for a short run)
	$(PY) benchmarks/bench_server.py $(BENCH_ARGS)

bench-gapfill: install  ## gap-fill rows/s on SQLite and PostgreSQL (services.sh starts them)
	bash scripts/services.sh
	$(PY) benchmarks/bench_gapfill.py

# The router bundle the Lambda function ships (`skyroute train router` writes out/router/router).
ROUTER_BUNDLE ?= out/router/router

lambda-zip: install  ## the Lambda router's function and layer zips in out/lambda, sizes checked
	@test -f $(ROUTER_BUNDLE)/bundle.json || { echo "no router bundle at $(ROUTER_BUNDLE): run \`skyroute train router\` or pass ROUTER_BUNDLE=DIR"; exit 1; }
	$(PY) deploy/lambda/lambda_zip.py --bundle $(ROUTER_BUNDLE) --out out/lambda

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
