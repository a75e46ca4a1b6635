# Task runner. Every target but help installs what is missing first (tools/install.sh: idempotent, seconds when done).
SHELL := /bin/bash
PYENV = PY=$$(bash tools/install.sh | tail -n1) && { [ -x "$$PY" ] || { echo 'make: tools/install.sh failed (above)' >&2; false; }; } && export PYTHONPATH=$(CURDIR):$$PYTHONPATH
DEMO_CONFIG ?=
DEMO_DIR ?= work_dirs/demo
TEST_JOBS ?= 2

.PHONY: help install demo demo-det demo-pc-nas demo-cr-nas readme-figures test test-fast lint format bench-deps bench-pbt

# Installs what is missing (tools/install.sh); every other target but help runs it first.
install:
	@bash tools/install.sh >/dev/null

# What each target does (this list).
help:
	@awk '/^# /{c = c "    " substr($$0, 3) "\n"; next} /^[a-z][a-z-]*:/ && c {split($$0, t, ":"); printf "make %s\n%s", t[1], c} {c = ""}' $(firstword $(MAKEFILE_LIST))

# Benchmark-only extras (requirements/bench.txt: Ray Tune for benchmarks/ohl_vs_pbt.py) into the project venv.
bench-deps:
	@$(PYENV) && $$PY -m pip install -r requirements/bench.txt

# OHL against Ray Tune's PBT / PB2, random search and a grid (benchmarks/ohl_vs_pbt.py), extras installed first;
# BENCH_ARGS passes options (e.g. BENCH_ARGS='--seeds 0 --epochs 2 --grid-subset 2' for a quick check).
bench-pbt: bench-deps
	@$(PYENV) && $$PY benchmarks/ohl_vs_pbt.py $(BENCH_ARGS)

# OHL-Auto-Aug with 4 copies on Fashion-MNIST (installed by tools/install.sh when it can; else on the bundled
# digits), then the best copy's test accuracy. A progress line every few trunks on the console (the config's
# OHLProgressHook interval); the full log in DEMO_DIR.
demo:
	@$(PYENV) && bash tools/demo.sh $$PY $(DEMO_DIR) $(DEMO_CONFIG)

# mmdet Faster R-CNN (automl_mm ResNet-18) on the generated COCO-format shapes set; reports COCO bbox mAP.
demo-det:
	@$(PYENV) && $$PY tools/data/generate_coco.py data/synthetic_coco \
	  && $$PY tools/train.py configs/baselines/baseline_faster-rcnn-r18-fpn_1x1_24e_synthcoco.py --work-dir work_dirs/demo_det

# PC-NAS on digits: a 4-layer MBConv supernet, one stage per layer, pool of 3; about 3 minutes on 2 idle CPU cores (README: PC-NAS).
demo-pc-nas:
	@$(PYENV) && $$PY tools/train.py configs/pc_nas/pc-nas_mbconv-digits_1x1_1800it_digits.py --work-dir work_dirs/demo_pc_nas

# CR-NAS on the generated COCO set (arch-train / arch-val split of its train images): stage then dilation search.
demo-cr-nas:
	@$(PYENV) && $$PY tools/data/generate_coco.py data/synthetic_coco \
	  && $$PY tools/data/split_coco.py data/synthetic_coco/annotations/instances_train.json \
	     data/synthetic_coco/annotations --val-fraction 0.25 \
	  && $$PY tools/train.py configs/cr_nas/cr-nas_cr-r18-fpn_1x1_1200it_synthcoco.py --work-dir work_dirs/demo_cr_nas

# Re-run the demos whose figures the README quotes; print each next to the README's value (about 15 minutes;
# READMEFIG_ARGS=--with-cr-nas adds demo-cr-nas, 15 more; --write updates the README).
readme-figures:
	@$(PYENV) && $$PY tools/readme_figures.py $(READMEFIG_ARGS)

# ruff, then the whole test suite. TEST_JOBS pytest-xdist workers share the tests (2: one per core here; the multi-copy tests start processes of
# their own, so more workers than cores only slows them); worksteal balances them (slow tests run first). Each
# worker and the tools it starts run cores / TEST_JOBS torch threads unless OMP_NUM_THREADS is set (tests/conftest.py).
# The suite writes bytecode caches even where PYTHONDONTWRITEBYTECODE is set (some sandboxes set it): it starts many
# Python processes (tools, benchmarks, ranks), and each compiled automl_mm and tools anew without them (0.8 s of CPU).
test:
	@$(PYENV) && $$PY -m ruff check . && env -u PYTHONDONTWRITEBYTECODE $$PY -m pytest tests -n $(TEST_JOBS) --dist worksteal

# The test suite without the tests marked slow (no ruff).
test-fast:
	@$(PYENV) && env -u PYTHONDONTWRITEBYTECODE $$PY -m pytest tests -m "not slow" -n $(TEST_JOBS) --dist worksteal

# ruff check of the whole repository.
lint:
	@$(PYENV) && $$PY -m ruff check .

# ruff format of automl_mm, tools, tests and benchmarks.
format:
	@$(PYENV) && $$PY -m ruff format automl_mm tools tests benchmarks
