"""What each distillation method costs on a teacher -> student pair.

    python tools/pair_report.py TEACHER_CONFIG STUDENT_CONFIG \
        [--methods ERA PKD ...] [--img-size N] [--steps N] [--device cpu|cuda]

Configs are files or ``mmdet::`` paths. For each method it prints whether
it trains on the pair (or the message it refuses it with), the feature maps
it pairs, the trainable parameters it adds, and its training step's time
and peak memory as ratios to the student's step and to the floor (the
student's step plus the frozen teacher's forward), measured here with
random weights on random images; then the deployed student's parameters
and GFLOPs. Nothing downloads, nothing trains beyond those few steps.
"""
from _bootstrap import ensure_mmera_importable

ensure_mmera_importable()

from mmera.analysis.pair_report import main  # noqa: E402

if __name__ == '__main__':
    main()
