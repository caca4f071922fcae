"""Experiment runs on the tiny sets: teachers, methods, the shared trainer.

Used by ``tools/era_demo.py``, ``tools/train_teachers.py`` and the scripts of
``tools/benchmark/``:

* :mod:`mmera.runs.paths`: the repository's paths;
* :mod:`mmera.runs.training`: train a config through ``tools/train.py`` in a
  subprocess, reuse finished runs, read their metrics;
* :mod:`mmera.runs.teachers`: the tiny sets, their teacher configs and the
  teacher checkpoints the distillation configs load;
* :mod:`mmera.runs.methods`: the distillation method -> config table;
* :mod:`mmera.runs.method_cost`, :mod:`mmera.runs.train_step`,
  :mod:`mmera.runs.reskd_flops`, :mod:`mmera.runs.children`: what the
  benchmark and analysis scripts measure.

This ``__init__`` imports none of them; :mod:`mmera.runs.paths`,
:mod:`~mmera.runs.training`, :mod:`~mmera.runs.teachers` and
:mod:`~mmera.runs.methods` need no torch model code of their own (importing
any of them still imports ``mmera``, which registers its components).
"""
