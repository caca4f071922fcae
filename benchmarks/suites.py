"""The suites of the benchmark: a set, a teacher, a baseline and the methods
compared with it; one more block of the tables is one more entry of
:data:`SUITES`.

The main table (:data:`MAIN_SUITES`), ERA's ablations, the plain students'
plateau, every distillation method on one set (``<data>-methods``), the
other tiny detector families (:data:`FAMILY_SUITES`) and the demo
(``demo-<data>``: the baseline and ERA) are all suites of the one driver,
:mod:`benchmarks.results`; a config listed by several suites trains once.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Sequence

#: The method name of every suite's plain student.
BASELINE = 'baseline'
#: Methods that train without the suite's teacher (the rest load it: their
#: runs are redone when the teacher changes).
TEACHER_FREE = (BASELINE, 'cost-matched', 'student-4000it', 'student-8000it',
                'student-16000it', 'student-32000it', 'trunk-branch')


@dataclass(frozen=True)
class Suite:
    """One block of the table: a set, a teacher, a baseline and methods.

    Attributes:
        data: The tiny set (a key of :data:`benchmarks.teachers.SETS`).
        detector: The teacher's detector family (``ensure_teacher``'s
            ``detector``); the distillers' configs load its checkpoint.
        baseline: The plain student's config, repository-relative.
        methods: Method name -> its config, repository-relative.
    """
    data: str
    detector: str
    baseline: str
    methods: Dict[str, str] = field(default_factory=dict)

    def configs(self) -> Dict[str, str]:
        """Every config of the suite, the baseline first."""
        return {BASELINE: self.baseline, **self.methods}


_ERA_ABLATION = 'configs/era/era-{}_retinanet_r34w32-r18w16_fpn_500it_' \
    'synthetic.py'

#: suite -> :class:`Suite`; a new block of the table is one more entry.
SUITES: Dict[str, Suite] = {
    'synthetic-retinanet': Suite(
        'synthetic', 'retinanet',
        'configs/tiny/retinanet_r18w16_fpn_500it_synthetic.py', {
            # the student for ERA's measured cost (configs/tiny/README.md)
            'cost-matched': 'configs/tiny/retinanet_r18w16_fpn_1900it_'
            'synthetic.py',
            'head-init': 'configs/head_init/head-init_retinanet_r34w32-'
            'r18w16_fpn_500it_synthetic.py',
            'fitnet': 'configs/fitnet/fitnet_retinanet_r34w32-r18w16_fpn_'
            '500it_synthetic.py',
            'pkd': 'configs/pkd/pkd_retinanet_r34w32-r18w16_fpn_500it_'
            'synthetic.py',
            'crosskd': 'configs/crosskd/crosskd_retinanet_r34w32-r18w16_fpn_'
            '500it_synthetic.py',
            'era': 'configs/era/era_retinanet_r34w32-r18w16_fpn_500it_'
            'synthetic.py',
            # ERA's defaults, its cheap setting
            'era-fast': 'configs/era/era-fast_retinanet_r34w32-r18w16_fpn_'
            '500it_synthetic.py'}),
    'synthetic-gfl': Suite(
        'synthetic', 'gfl', 'configs/tiny/gfl_r18w16_fpn_500it_synthetic.py', {
            'cost-matched': 'configs/tiny/gfl_r18w16_fpn_2050it_'
            'synthetic.py',
            'head-init': 'configs/head_init/head-init_gfl_r34w32-r18w16_fpn_'
            '500it_synthetic.py',
            'ld': 'configs/ld/ld_gfl_r34w32-r18w16_fpn_500it_synthetic.py',
            'crosskd': 'configs/crosskd/crosskd_gfl_r34w32-r18w16_fpn_500it_'
            'synthetic.py',
            'era': 'configs/era/era_gfl_r34w32-r18w16_fpn_500it_synthetic.py'
        }),
    'deepforest-retinanet': Suite(
        'deepforest', 'retinanet',
        'configs/tiny/retinanet_r18w16_fpn_500it_deepforest.py', {
            'cost-matched': 'configs/tiny/retinanet_r18w16_fpn_1700it_'
            'deepforest.py',
            'head-init': 'configs/head_init/head-init_retinanet_mnv2-r18w16_'
            'fpn_500it_deepforest.py',
            'fitnet': 'configs/fitnet/fitnet_retinanet_mnv2-r18w16_fpn_500it_'
            'deepforest.py',
            'pkd': 'configs/pkd/pkd_retinanet_mnv2-r18w16_fpn_500it_'
            'deepforest.py',
            'era': 'configs/era/era_retinanet_mnv2-r18w16_fpn_500it_'
            'deepforest.py',
            'crosskd': 'configs/crosskd/crosskd_retinanet_mnv2-r18w16_fpn_'
            '500it_deepforest.py'}),
    # ERA's ablations on the same protocol (synthetic set only): each
    # configs/era/era-<variant>_* config changes one thing of ERA's
    'synthetic-ablations': Suite(
        'synthetic', 'retinanet',
        'configs/tiny/retinanet_r18w16_fpn_500it_synthetic.py', {
            'era': 'configs/era/era_retinanet_r34w32-r18w16_fpn_500it_'
            'synthetic.py',
            'era-notwi': _ERA_ABLATION.format('notwi'),
            'era-k0': _ERA_ABLATION.format('k0'),
            'era-k1': _ERA_ABLATION.format('k1'),
            'era-k2': _ERA_ABLATION.format('k2'),
            'era-1block': _ERA_ABLATION.format('1block'),
            'era-separable': _ERA_ABLATION.format('separable'),
            'era-sampled': _ERA_ABLATION.format('sampled'),
            'era-last': _ERA_ABLATION.format('last'),
            'era-nonorm': _ERA_ABLATION.format('nonorm'),
            'era-headinit': _ERA_ABLATION.format('headinit'),
            # the fix the ablations propose: TWI kept out of the branches
            'era-twidetach': _ERA_ABLATION.format('twidetach'),
            # the proposal's control: the head-initialised student trained
            # for ERA's cost (the same compute and head start, no ERA)
            'head-init-cost-matched': 'configs/head_init/head-init_retinanet_'
            'r34w32-r18w16_fpn_1900it_synthetic.py',
            # the proposal: era-fast for full ERA's cost (850 iterations)
            'era-fast-850it': 'configs/era/era-fast_retinanet_r34w32-r18w16_'
            'fpn_850it_synthetic.py',
        }),
    # The plain students' plateau: one schedule shape stretched to 2000,
    # 4000, 8000 (and 16000) iterations (configs/tiny/*_<n>it_synthetic.py);
    # the shortest length that its double no longer beats is the plateau.
    'synthetic-retinanet-plateau': Suite(
        'synthetic', 'retinanet',
        'configs/tiny/retinanet_r18w16_fpn_2000it_synthetic.py', {
            'student-4000it': 'configs/tiny/retinanet_r18w16_fpn_4000it_'
            'synthetic.py',
            'student-8000it': 'configs/tiny/retinanet_r18w16_fpn_8000it_'
            'synthetic.py',
            'student-16000it': 'configs/tiny/retinanet_r18w16_fpn_16000it_'
            'synthetic.py'}),
    # the same at 192 px, where the model's step costs under half; its
    # teacher is the one trained at 192 px
    'synthetic-retinanet-plateau-192': Suite(
        'synthetic', 'retinanet-32000it-192',
        'configs/tiny/retinanet_r18w16_fpn_2000it_synthetic-192.py', {
            f'student-{n}it': f'configs/tiny/retinanet_r18w16_fpn_{n}it_'
            'synthetic-192.py' for n in (4000, 8000, 16000, 32000)}),
    'synthetic-gfl-plateau-192': Suite(
        'synthetic', 'gfl-32000it-192',
        'configs/tiny/gfl_r18w16_fpn_2000it_synthetic-192.py', {
            f'student-{n}it': f'configs/tiny/gfl_r18w16_fpn_{n}it_'
            'synthetic-192.py' for n in (4000, 8000, 16000, 32000)}),
    'synthetic-gfl-plateau': Suite(
        'synthetic', 'gfl',
        'configs/tiny/gfl_r18w16_fpn_2000it_synthetic.py', {
            'student-4000it': 'configs/tiny/gfl_r18w16_fpn_4000it_'
            'synthetic.py',
            'student-8000it': 'configs/tiny/gfl_r18w16_fpn_8000it_'
            'synthetic.py'}),
}



def _methods_suite(data: str, pair: str) -> Suite:
    """Every distillation method of the tiny RetinaNet configs on ``data``
    (``pair``: the teacher's short name in the distillers' config names)."""
    def config(method: str, name: str = '') -> str:
        return (f'configs/{method}/{name or method}_retinanet_{pair}-r18w16_'
                f'fpn_500it_{data}.py')
    return Suite(data, 'retinanet',
                 f'configs/tiny/retinanet_r18w16_fpn_500it_{data}.py', {
                     **{m: config(m) for m in ('era', 'fitnet', 'pkd', 'rkd',
                                               'reskd', 'sskd')},
                     'trunk-branch': 'configs/trunk_branch/trunk-branch_'
                     f'retinanet_r18w16_fpn_500it_{data}.py'})


def _family_suite(student: str, **methods: str) -> Suite:
    """A tiny detector family on the synthetic set: its student (under
    ``configs/tiny/``) and distillers (``method=config``, with ``_`` for
    ``-`` in the method's name); the teacher is the family's tiny one."""
    family = student.split('_')[0]
    return Suite('synthetic', family, f'configs/tiny/{student}', {
        m.replace('_', '-'): c for m, c in methods.items()})


_FAMILY_ERA = 'configs/era/era{}_{}_r34w32-r18w16_fpn_500it_synthetic.py'
SUITES.update({
    # every distillation method on one set: what trains, at what cost
    'deepforest-methods': _methods_suite('deepforest', 'mnv2'),
    'synthetic-methods': _methods_suite('synthetic', 'r34w32'),
    # ERA (and PKD on the two-stage pair) on the other tiny detector
    # families; the GFL family is the synthetic-gfl suite
    'synthetic-fcos': _family_suite(
        'fcos_r18w16_fpn_500it_synthetic.py',
        era=_FAMILY_ERA.format('', 'fcos'),
        # ERA's cheaper settings: era-fast's sampled TWI, and TWI on half
        # the steps
        era_sampled=_FAMILY_ERA.format('-sampled', 'fcos'),
        era_halftwi=_FAMILY_ERA.format('-halftwi', 'fcos')),
    'synthetic-atss': _family_suite('atss_r18w16_fpn_500it_synthetic.py',
                                    era=_FAMILY_ERA.format('', 'atss')),
    'synthetic-rtmdet': _family_suite(
        'rtmdet_cspnextw16_cspnextpafpn_500it_synthetic.py',
        era='configs/era/era_rtmdet_cspnextw24-cspnextw16_cspnextpafpn_'
        '500it_synthetic.py'),
    'synthetic-fasterrcnn': _family_suite(
        'fasterrcnn_r18w16_fpn_500it_synthetic.py',
        era=_FAMILY_ERA.format('', 'fasterrcnn'),
        pkd='configs/pkd/pkd_fasterrcnn_r34w32-r18w16_fpn_500it_'
        'synthetic.py'),
})
# The comparison at a long schedule, at 192 px: every arm on the plain
# student's schedule of that length (configs named ``*_<n>it_synthetic-192``),
# the student at twice the length as the compute control, the teacher
# trained as long as the longest plain student of the study
# (:mod:`benchmarks.convergence` reads them). Every option of these
# configs' distillers is stated (``PINNED_SUITES``), so their records keep
# their meaning when a default changes.
#: detector -> the distilled arms of its comparison (RetinaNet's full set;
#: GFL's the head-initialised student and ERA's cheap setting, alone and
#: with the teacher's head)
LONG_SCHEDULE_ARMS = {
    'retinanet': {'head-init': ('head_init', 'head-init'),
                  'pkd': ('pkd', 'pkd'),
                  'era-fast': ('era', 'era-fast'),
                  'era-fast-headinit': ('era', 'era-fastheadinit')},
    'gfl': {'head-init': ('head_init', 'head-init'),
            'era-fast': ('era', 'era-fast'),
            'era-fast-headinit': ('era', 'era-fastheadinit')},
}


def _long_schedule_suite(detector: str, iters: int) -> Suite:
    """``detector``'s arms on the plain student's ``iters``-iteration
    schedule at 192 px, with the student trained twice as long as the
    control."""
    student = f'configs/tiny/{detector}_r18w16_fpn_{{}}it_synthetic-192.py'
    arms = LONG_SCHEDULE_ARMS[detector]
    return Suite(
        'synthetic', f'{detector}-32000it-192', student.format(iters), {
            f'student-{2 * iters}it': student.format(2 * iters),
            **{arm: f'configs/{folder}/{name}_{detector}_r34w32-r18w16_fpn_'
               f'{iters}it_synthetic-192.py'
               for arm, (folder, name) in arms.items()},
        })


#: the long schedules: 8000 iterations, then 16000 (where the plain student
#: gains less from doubling), per detector
LONG_SCHEDULE_SUITES = tuple(f'synthetic-{det}-{n}it-192'
                             for det in LONG_SCHEDULE_ARMS
                             for n in (8000, 16000))
SUITES.update({f'synthetic-{det}-{n}it-192': _long_schedule_suite(det, n)
               for det in LONG_SCHEDULE_ARMS for n in (8000, 16000)})
#: the ablation at the RetinaNet plateau: era-fast with K = 0 (no residual
#: branches) against era-fast (K = 4), the same runs of era-fast
SUITES['synthetic-retinanet-16000it-192-ablations'] = Suite(
    'synthetic', 'retinanet-32000it-192',
    'configs/tiny/retinanet_r18w16_fpn_16000it_synthetic-192.py', {
        'era-fast': SUITES['synthetic-retinanet-16000it-192'].methods[
            'era-fast'],
        'era-fast-k0': 'configs/era/era-fastk0_retinanet_r34w32-r18w16_fpn_'
        '16000it_synthetic-192.py'})
#: suites whose distiller configs must state every option
PINNED_SUITES = (*LONG_SCHEDULE_SUITES,
                 'synthetic-retinanet-16000it-192-ablations')

#: ``make demo``: a main suite's baseline and ERA at its defaults (its
#: cheap setting), per set
DEMO_ERA = {
    'synthetic': SUITES['synthetic-retinanet'].methods['era-fast'],
    'deepforest': 'configs/era/era-fast_retinanet_mnv2-r18w16_fpn_500it_'
    'deepforest.py'}
SUITES.update({
    f'demo-{data}': Suite(spec.data, spec.detector, spec.baseline,
                          {'era-fast': DEMO_ERA[data]})
    for data, spec in (('synthetic', SUITES['synthetic-retinanet']),
                       ('deepforest', SUITES['deepforest-retinanet']))})

#: The main table's suites (the ablations come after them)
MAIN_SUITES = ('synthetic-retinanet', 'synthetic-gfl', 'deepforest-retinanet')
#: ERA against the baseline on every tiny detector family
FAMILY_SUITES = ('synthetic-fcos', 'synthetic-atss', 'synthetic-gfl',
                 'synthetic-rtmdet', 'synthetic-fasterrcnn')
#: names that stand for several suites on the command line
GROUPS = {'main': MAIN_SUITES, 'families': FAMILY_SUITES}


def expand(names: Sequence[str]) -> List[str]:
    """Suite names, each group of :data:`GROUPS` replaced by its suites
    (duplicates dropped, order kept).

    Raises:
        KeyError: For a name that is neither a suite nor a group.
    """
    out: List[str] = []
    for name in names:
        for suite in GROUPS.get(name, (name, )):
            if suite not in SUITES:
                raise KeyError(f'unknown suite {suite!r}; known: '
                               f'{sorted(SUITES)} or {sorted(GROUPS)}')
            out.append(suite)
    return list(dict.fromkeys(out))
