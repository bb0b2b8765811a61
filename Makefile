# Two commands a new user needs: `make run` (the main job) and `make test` (the test suite).
# Both create .venv with Python >= 3.12 and install the package with its dev extras first.
# `make explore` starts the explorer page (issue 15) on http://127.0.0.1:8765/.
VENV := .venv
PYTHON := $(VENV)/bin/python
SCALE ?= 0.01
DAYS ?= 365
SEED ?= 1
REPS ?= 5

PORT ?= 8765

.PHONY: run test lint bench clean explore

$(VENV)/installed: pyproject.toml
	@py=$$(tools/find-python) && "$$py" -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[dev,ema,explore]'
	@$(PYTHON) tools/solara-cdn $(VENV)
	@# compile the queueing core and the map's search now (about 12 s, once per machine), not in
	@# the first run; and the package's bytecode (an editable install leaves that to each run)
	@$(PYTHON) -c "import time; t = time.perf_counter(); from sim.engine.compiled import warm_up; \
		from sim.city.geo.nearest import warm_up as warm_map; from sim.city.route_kernels import \
		warm_up as warm_routes; warm_up(); warm_map(); warm_routes(); \
		print(f'compiled the queueing core in {time.perf_counter() - t:.1f} s')"
	@$(PYTHON) -m compileall -q sim
	@touch $@

run: $(VENV)/installed
	rm -rf results/main
	-$(PYTHON) run.py validate --staffing --reps $(REPS) --scale $(SCALE) --out results/main/validate
	$(PYTHON) run.py compare scenarios/township.toml scenarios/longgang-2019.toml \
		scenarios/longgang-2021.toml scenarios/staff-cut-only.toml \
		--reps $(REPS) --seed $(SEED) --scale $(SCALE) --days $(DAYS) --out results/main

test: $(VENV)/installed
	@tools/ensure-chromium
	$(PYTHON) -m pytest -q

explore: $(VENV)/installed
	@echo "explorer: open http://127.0.0.1:$(PORT)/ in a browser (Ctrl-C stops it)"
	$(VENV)/bin/solara run sim/explore/app.py --host 127.0.0.1 --port $(PORT) --production --no-open

lint: $(VENV)/installed
	$(PYTHON) -m ruff check sim tests benchmarks run.py

bench: $(VENV)/installed
	$(PYTHON) -m pip install --quiet -e '.[bench]'
	$(PYTHON) benchmarks/full_city.py
	$(PYTHON) benchmarks/scaling.py
	$(PYTHON) benchmarks/naive_mesa.py
	$(PYTHON) benchmarks/ciw_compare.py
	$(PYTHON) benchmarks/batch.py
	$(PYTHON) benchmarks/staffing.py
	$(PYTHON) benchmarks/map.py
	$(PYTHON) benchmarks/behaviour.py

clean:
	rm -rf $(VENV) results/main results/compare
