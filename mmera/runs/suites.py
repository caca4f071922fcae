"""The blocks of the main results table (issue 13): a set, a teacher, a
baseline and the methods compared with it; one more block is one more entry
of :data:`SUITES`."""
from dataclasses import dataclass, field
from typing import Dict

#: The method name of every suite's plain student.
BASELINE = 'baseline'
#: Methods that train without the suite's teacher (the rest load it: their
#: runs are redone when the teacher changes).
TEACHER_FREE = (BASELINE, 'cost-matched', 'student-4000it', 'student-8000it')


@dataclass(frozen=True)
class Suite:
    """One block of the table: a set, a teacher, a baseline and methods.

    Attributes:
        data: The tiny set (a key of :data:`mmera.runs.teachers.SETS`).
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
            'synthetic.py'}),
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
    # 4000 and 8000 iterations (configs/tiny/*_<n>it_synthetic.py); the
    # shortest length that its double no longer beats is the plateau.
    'synthetic-retinanet-plateau': Suite(
        'synthetic', 'retinanet',
        'configs/tiny/retinanet_r18w16_fpn_2000it_synthetic.py', {
            'student-4000it': 'configs/tiny/retinanet_r18w16_fpn_4000it_'
            'synthetic.py',
            'student-8000it': 'configs/tiny/retinanet_r18w16_fpn_8000it_'
            'synthetic.py'}),
    'synthetic-gfl-plateau': Suite(
        'synthetic', 'gfl',
        'configs/tiny/gfl_r18w16_fpn_2000it_synthetic.py', {
            'student-4000it': 'configs/tiny/gfl_r18w16_fpn_4000it_'
            'synthetic.py',
            'student-8000it': 'configs/tiny/gfl_r18w16_fpn_8000it_'
            'synthetic.py'}),
}

#: The main table's suites (the ablations come after them: issue 13's budget)
MAIN_SUITES = ('synthetic-retinanet', 'synthetic-gfl', 'deepforest-retinanet')
