"""What each distillation method would cost on a teacher -> student pair.

:func:`measure_pair` builds the plain student, the teacher and every method
asked for the pair with random weights (nothing downloads), and measures on
this machine, on two random images of the configs' input size: whether the
method trains (or the message it refuses the pair with), the feature maps
it pairs, the trainable parameters it adds, and its training step's time
and peak memory next to the student's own step and to the *floor*: the
student's step plus the frozen teacher's forward, which any method that
reads the teacher's outputs pays. :func:`format_report` prints it. The
model a method deploys is the student (exported from the checkpoint), so
its cost is the same for all: its parameters and GFLOPs are given once.
"""
import statistics
import time
from typing import Dict, List, Optional, Sequence

import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from torch import nn

from .baselines import head_module
from .flops import count_params, detector_flops
from .inference_cost import era_mode_costs
from .offline import (
    batch_needs,
    init_checkpoint_only_weights,
    offline_model,
    resolve_config,
    teacher_of,
    train_data,
)
from .pair_probe import METHODS, build_method
from .step_memory import call_peak_bytes, resident_bytes, step_peak_bytes
from .step_timer import frozen_optim_wrapper, time_train_steps

#: the square image side where a config names none
DEFAULT_SIZE = 640
#: the pipeline transforms whose ``scale`` is the input size
_RESIZES = ('Resize', 'RandomResize', 'RandomChoiceResize')


def config_input_size(config: str) -> Optional[int]:
    """The short side of the first resize of the config's test pipeline
    (e.g. 800 for mmdet's ``(1333, 800)``), or None."""
    path = resolve_config(config)
    cfg = get_config(path) if '::' in path else Config.fromfile(path)
    pipeline = (cfg.get('test_dataloader') or {}).get('dataset', {}).get(
        'pipeline') or cfg.get('test_pipeline') or []
    for transform in pipeline:
        scale = transform.get('scale')
        if transform.get('type') in _RESIZES and scale:
            return int(min(scale)) if isinstance(scale, (list, tuple)) \
                else int(scale)
    return None


def added_params(model: nn.Module) -> int:
    """The trainable parameters a method adds to its student (adapters,
    branches, MBRNet; not the frozen teacher or its head copies)."""
    student = getattr(model, 'student', model)
    own = {id(p) for p in student.parameters()}
    return sum(p.numel() for p in model.parameters()
               if p.requires_grad and id(p) not in own)


def pairing_text(method: str, model: nn.Module, student: dict) -> str:
    """The feature maps (or heads) the method pairs, in words (``student``:
    the student's model dict)."""
    pairing = getattr(model, 'pairing', None)
    if pairing is not None:
        widths = pairing.level_channels()
        text = (f'neck strides {list(pairing.strides)}: student widths '
                f'{list(widths[0])}')
        return text + (f', teacher widths {list(widths[1])}'
                       if getattr(pairing, 'teacher', None) else '')
    if hasattr(model, 'stage_strides'):
        return ('backbone outputs (student, teacher) '
                f'{[tuple(p) for p in model.stage_pairs]} at strides '
                f'{list(model.stage_strides)}, one phase each, then the task')
    if method == 'LD':
        return ('head box-side distributions at strides '
                f'{list(model.bbox_head.prior_generator.strides)}')
    if method == 'head-init':
        return (f'no features: the teacher\'s {head_module(student)} '
                'weights start the student\'s')
    return '-'


def _median_step_ms(model: nn.Module, data: dict, steps: int) -> float:
    """The median train-step time; a phased method's phases all timed."""
    phased = hasattr(model, 'set_phase')
    timed = time_train_steps(
        model, data, iters=steps, warmup=1, at_iters=(0, 1) if phased
        else (0, ),
        before=(lambda it: model.set_phase(it * model.num_pairs))
        if phased else None)
    return statistics.median(timed['times_ms'])


def _step_cost(model: nn.Module, data: dict, steps: int,
               device: str) -> Dict[str, float]:
    optim = frozen_optim_wrapper(model)
    ms = _median_step_ms(model, data, steps)
    teacher = teacher_of(model)
    peak = step_peak_bytes(
        model, lambda: model.train_step(data, optim), optim.optimizer,
        extra=[teacher] if teacher is not None else [], device=device)
    return dict(ms=ms, bytes=peak)


def _teacher_forward_cost(teacher: nn.Module, data: dict, steps: int,
                          device: str) -> Dict[str, float]:
    """Time and peak memory of the frozen teacher's forward (no grad)."""
    teacher.eval()

    @torch.no_grad()
    def forward():
        batch = teacher.data_preprocessor(data, False)
        teacher._forward(batch['inputs'], batch['data_samples'])
        if device != 'cpu':
            torch.cuda.synchronize(device)

    forward()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        forward()
        times.append(1e3 * (time.perf_counter() - start))
    return dict(ms=statistics.median(times),
                bytes=resident_bytes([teacher]) +
                call_peak_bytes(forward, device))


def _build(config: str, device: str) -> nn.Module:
    model = init_checkpoint_only_weights(MODELS.build(offline_model(config)))
    return revert_sync_batchnorm(model).to(device)


def measure_pair(teacher: str, student: str,
                 methods: Sequence[str] = tuple(METHODS),
                 size: Optional[int] = None, steps: int = 3,
                 device: str = 'cpu') -> Dict:
    """Measures every method on the pair (see the module's docstring).

    Args:
        teacher: The teacher's config (file or ``mmdet::`` path).
        student: The student's config.
        methods: Keys of :data:`~mmera.analysis.pair_probe.METHODS`.
        size: The square image side (default: the student config's test
            resize, else :data:`DEFAULT_SIZE`).
        steps: Timed steps per measurement (after one untimed).
        device: ``'cpu'`` or ``'cuda'``.

    Returns:
        dict: ``size``, ``device``, ``steps``, ``student``, ``teacher`` and
        ``floor`` (``ms``, ``bytes``), ``deployed`` (``params``,
        ``gflops``) and ``methods``: one dict per method with ``method``,
        ``status``, ``message`` and, where it trains, ``pairs``,
        ``added_params``, ``ms`` and ``bytes``.
    """
    init_default_scope('mmdet')
    size = size or config_input_size(student) or DEFAULT_SIZE
    data = train_data(size, **batch_needs(offline_model(student),
                                          offline_model(teacher)))
    plain = _build(student, device)
    result = dict(size=size, device=device, steps=steps,
                  student=_step_cost(plain, data, steps, device))
    sample = plain.data_preprocessor(data, False)['data_samples'][:1]
    result['deployed'] = dict(params=count_params([plain]), gflops=None)
    try:
        result['deployed']['gflops'] = detector_flops(plain, size,
                                                      sample) / 1e9
    except Exception as err:  # noqa: BLE001 (a detector the tracer fails)
        result['deployed']['flops_error'] = f'{type(err).__name__}: {err}'
    frozen = _build(teacher, device)
    result['teacher'] = _teacher_forward_cost(frozen, data, steps, device)
    del frozen
    result['methods'] = [
        _measure_method(m, teacher, student, data, steps, device, size)
        for m in methods]
    # the student's step again, after the methods: the faster of the two
    # (the first steps of a process and a machine's load only slow it)
    result['student']['ms'] = min(result['student']['ms'],
                                  _median_step_ms(plain, data, steps))
    result['floor'] = {k: result['student'][k] + result['teacher'][k]
                       for k in ('ms', 'bytes')}
    return result


def _measure_method(method: str, teacher: str, student: str, data: dict,
                    steps: int, device: str, size: int) -> Dict:
    row = dict(method=method, status='trains', message='')
    try:
        model = build_method(method, teacher, student).to(device)
    except ImportError as err:
        return dict(row, status='unavailable', message=str(err))
    except ValueError as err:
        return dict(row, status='refused', message=str(err))
    row.update(pairs=pairing_text(method, model, offline_model(student)),
               added_params=added_params(model))
    try:
        row.update(_step_cost(model, data, steps, device))
        if method == 'ERA':  # what its inference modes cost
            row['modes'] = era_mode_costs(model, size, steps)
    except Exception as err:  # noqa: BLE001 (reported, not raised)
        return dict(row, status='crashes',
                    message=f'{type(err).__name__}: {err}')
    return row


def _mb(num: float) -> str:
    return f'{num / 2**20:,.0f} MiB'


def format_report(result: Dict, teacher: str, student: str) -> str:
    """The printed report of :func:`measure_pair`'s result."""
    stu, tea, floor = result['student'], result['teacher'], result['floor']
    dep = result['deployed']
    lines = [
        f'Teacher: {teacher}', f'Student: {student}',
        f"Measured on {result['device']}: random weights, two random "
        f"{result['size']}x{result['size']} images per step, SGD at "
        f"learning rate 0; median of {result['steps']} timed steps after one "
        'untimed (a busy machine skews the ratios: compare on an idle '
        'one). Peak memory: the models, gradients and optimizer state '
        'plus the most the step allocates at once.', '',
        f"Student alone: step {stu['ms']:.0f} ms (the faster of a "
        f"measurement before and after the methods), peak memory "
        f"{_mb(stu['bytes'])}",
        f"Frozen teacher's forward: {tea['ms']:.0f} ms, peak memory "
        f"{_mb(tea['bytes'])}",
        f"Floor: {floor['ms']:.0f} ms, {_mb(floor['bytes'])} = the "
        "student's step + the frozen teacher's forward, what any method "
        "that reads the teacher's outputs pays at least (teacher-free "
        'methods, Trunk-to-Branch and head-init, pay less).', '',
        "Deployed model (the exported student, whatever trained it): "
        f"{dep['params'] / 1e6:.2f} M params, " + (
            f"{dep['gflops']:.3g} GFLOPs" if dep['gflops'] is not None else
            f"GFLOPs not counted ({dep.get('flops_error')})") +
        f" at {result['size']}x{result['size']}."]
    lines.append('')
    for row in result['methods']:
        lines.append(f"{row['method']}: {row['status']}")
        if row['status'] != 'trains':
            lines.append(f"  {row['message']}")
            continue
        lines += [
            f"  pairs: {row['pairs']}",
            f"  adds {row['added_params']:,} trainable parameters",
            f"  step {row['ms']:.0f} ms = {row['ms'] / stu['ms']:.2f} x "
            f"student, {row['ms'] / floor['ms']:.2f} x floor",
            f"  peak memory {_mb(row['bytes'])} = "
            f"{row['bytes'] / stu['bytes']:.2f} x student, "
            f"{row['bytes'] / floor['bytes']:.2f} x floor"]
        if row.get('modes'):
            lines.append('  inference (one image; T and ST need mmera, '
                         'the exported student is S): ' + '; '.join(
                             f"{m} {c['gflops']:.3g} GFLOPs "
                             f"({c['gflops_ratio']:.2f} x S), "
                             f"{c['ms']:.0f} ms ({c['ms_ratio']:.2f} x S)"
                             for m, c in row['modes'].items()))
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> None:
    """``tools/pair_report.py``: parses the arguments, prints the report."""
    import argparse
    parser = argparse.ArgumentParser(
        description='What each distillation method costs on a teacher -> '
        'student pair (random weights, measured here).')
    parser.add_argument('teacher', help='teacher config (file or mmdet::)')
    parser.add_argument('student', help='student config (file or mmdet::)')
    parser.add_argument('--methods', nargs='+', choices=list(METHODS),
                        default=list(METHODS))
    parser.add_argument('--img-size', type=int, default=None,
                        help='square image side (default: the student '
                        "config's test resize)")
    parser.add_argument('--steps', type=int, default=3,
                        help='timed training steps per measurement')
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    args = parser.parse_args(argv)
    result = measure_pair(args.teacher, args.student, args.methods,
                          args.img_size, args.steps, args.device)
    print(format_report(result, args.teacher, args.student))
