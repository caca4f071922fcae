"""Measure a detector pair before (or instead of) training it.

* :mod:`mmera.analysis.pair_probe`: which method builds and trains one step
  on which teacher -> student pair, or the message it is refused with
  (:mod:`mmera.analysis.baselines`: mmdet's LD and the head-initialised
  student; :mod:`mmera.analysis.offline`: configs without downloads and
  random training data);
* :mod:`mmera.analysis.pair_report`: per method, what it pairs, the
  parameters it adds and its step's time and memory on a pair
  (``tools/pair_report.py``);
* :mod:`mmera.analysis.step_timer`: the time of N training steps of a built
  model on one fixed batch; :mod:`mmera.analysis.step_memory`: their peak
  memory;
* :mod:`mmera.analysis.flops`: FLOPs per image with mmengine's
  ``FlopAnalyzer`` (a detector, any part of a model, ResKD's adaptive depth).

This ``__init__`` imports none of them: each pulls in torch and mmdet.
"""
