"""The experiment harness of the repository: suites of runs, their tables.

Run from a source checkout (it drives ``tools/train.py`` and ``tools/test.py``
in subprocesses and keeps its records in ``docs/results/runs/``); it is not
part of the installed ``mmera`` package. One driver, ``python -m
benchmarks`` (:mod:`benchmarks.results`), trains the suites of
:mod:`benchmarks.suites` (a teacher, a baseline and methods over seeds) and
writes one table; the other entry points are

* ``python -m benchmarks.train_teachers``: the tiny teachers (``make
  teachers``);
* ``python -m benchmarks.step_cost``: ERA's train step against the student,
  a distiller floor and LD, each mode in a process of its own;
* ``python -m benchmarks.zoo_sweep``: which method trains on which of
  mmdet's detector pairs, one per zoo folder
  (:mod:`mmera.analysis.pair_probe`);
* ``python -m benchmarks.rkd_cost`` / ``python -m benchmarks.reskd_cost``:
  the FLOPs of an RKD / ResKD model (:mod:`mmera.analysis.flops`).

The measurements themselves (step timer, FLOPs, pair probe) are product code,
in :mod:`mmera.analysis`.
"""
