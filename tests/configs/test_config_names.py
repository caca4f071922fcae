"""Config file names follow mmdet's convention, and every config builds.

``{method}[-variant]_{detector}_{teacher}-{student}_{neck}_{schedule}_{data}``
``.py``, e.g. ``era_retinanet_r101-r50_fpn_1x_coco.py`` (teacher-free
methods name the student only), and ``{detector}_{backbone}_{neck}_``
``{schedule}_{data}.py`` for the plain detectors in ``configs/tiny/``
(schedules: ``1x`` = 12 epochs, mmdet's unit; ``300e`` = 300 epochs, as
mmdet names RTMDet's; ``500it`` = 500 iterations).
The names are checked against what the configs hold (backbones, schedule,
data), and every config's model is built with random weights: no
``init_weights``, so no pretrained-backbone download and no teacher
checkpoint read (``BaseDistiller`` loads ``teacher_ckpt`` lazily, in
``init_weights`` or at the first teacher forward; mmdet's own LD detector
reads it in ``__init__``, so it is built without one).
"""
import collections
import glob
import os.path as osp
import re

import pytest
import torch
from cli_helpers import REPO_ROOT, mmpretrain_imports
from mmengine.config import Config

CONFIGS = osp.join(REPO_ROOT, 'configs')

# method directory -> the prefix of its config names
METHOD_PREFIXES = {
    'crosskd': 'crosskd',
    'era': 'era',
    'fitnet': 'fitnet',
    'head_init': 'head-init',
    'ld': 'ld',
    'pkd': 'pkd',
    'rkd': 'rkd',
    'reskd': 'reskd',
    'sskd': 'sskd',
    'trunk_branch': 'trunk-branch',
}
# teacher-free methods: the name holds the student only
TEACHER_FREE = {'trunk_branch'}
# mmdet's own distiller (configs/ld/): its model is the student detector
# itself, with an LDHead (a GFLHead) and its teacher in ``teacher_config``
KD_DETECTOR = 'KnowledgeDistillationSingleStageDetector'
KD_HEAD_DETECTORS = {'LDHead': 'gfl'}
# the documented old path, kept as a one-line `_base_` alias -> its target
ALIASES = {
    'era/retinanet_r101_to_r50_coco.py':
    'era/era_retinanet_r101-r50_fpn_1x_coco.py',
}
DATASETS = ('coco', 'synthetic', 'synthetic-192', 'deepforest',
            'deepforest-ood')

_TOKEN = r'[a-z0-9]+'
_TAIL = (rf'_(?P<detector>{_TOKEN})'
         rf'_(?P<models>{_TOKEN}(?:-{_TOKEN})?)'
         rf'_(?P<neck>{_TOKEN})'
         r'_(?P<schedule>\d+x|\d+e|\d+it)'
         rf'_(?P<data>{"|".join(re.escape(d) for d in DATASETS)})\.py$')


def name_regex(method_dir: str) -> 're.Pattern':
    """The name pattern of the configs in ``configs/<method_dir>/``."""
    if method_dir == 'tiny':
        return re.compile(rf'^(?P<detector>{_TOKEN})'
                          rf'_(?P<models>{_TOKEN})'
                          rf'_(?P<neck>{_TOKEN})'
                          r'_(?P<schedule>\d+x|\d+e|\d+it)'
                          rf'_(?P<data>{"|".join(map(re.escape, DATASETS))})'
                          r'\.py$')
    prefix = re.escape(METHOD_PREFIXES[method_dir])
    return re.compile(rf'^(?P<method>{prefix})(?:-(?P<variant>{_TOKEN}))?' +
                      _TAIL)


def all_configs():
    """Every config outside ``_base_``, as paths relative to ``configs/``."""
    paths = glob.glob(osp.join(CONFIGS, '**', '*.py'), recursive=True)
    rel = [osp.relpath(p, CONFIGS) for p in paths]
    return sorted(p for p in rel if not p.startswith('_base_' + osp.sep))


def method_configs(method_dir: str, with_aliases: bool = False):
    """The configs of ``configs/<method_dir>/`` (relative to ``configs/``)."""
    return [
        p for p in all_configs()
        if osp.dirname(p) == method_dir and (with_aliases or p not in ALIASES)
    ]


def test_config_dirs_are_known():
    dirs = {osp.dirname(p) for p in all_configs()}
    assert dirs == set(METHOD_PREFIXES) | {'tiny'}, (
        'a new config directory needs a name prefix here and a README + '
        'metafile (tests/configs/test_metafiles.py)')


def test_config_file_names_are_unique():
    counts = collections.Counter(osp.basename(p) for p in all_configs())
    dup = {name: [p for p in all_configs() if osp.basename(p) == name]
           for name, n in counts.items() if n > 1}
    assert not dup, f'config file names used more than once: {dup}'


@pytest.mark.parametrize('alias', sorted(ALIASES))
def test_alias_is_a_one_line_base_of_its_target(alias):
    target = ALIASES[alias]
    with open(osp.join(CONFIGS, alias)) as f:
        code = [line.strip() for line in f
                if line.strip() and not line.strip().startswith('#')]
    rel_target = './' + osp.relpath(target, osp.dirname(alias))
    assert code == [f'_base_ = {rel_target!r}'], code
    alias_cfg = Config.fromfile(osp.join(CONFIGS, alias))
    target_cfg = Config.fromfile(osp.join(CONFIGS, target))
    for key in ('model', 'train_cfg', 'optim_wrapper', 'param_scheduler',
                'train_dataloader', 'custom_hooks'):
        assert alias_cfg[key] == target_cfg[key], key
    assert alias_cfg.to_dict() == target_cfg.to_dict()


@pytest.mark.parametrize('method_dir', sorted(METHOD_PREFIXES) + ['tiny'])
def test_config_names_follow_the_convention(method_dir):
    regex = name_regex(method_dir)
    configs = method_configs(method_dir)
    assert configs, f'configs/{method_dir}/ has no config'
    bad = [p for p in configs if not regex.match(osp.basename(p))]
    assert not bad, (f'not {regex.pattern}: {bad}')
    teacher_free = method_dir in TEACHER_FREE or method_dir == 'tiny'
    for p in configs:
        models = regex.match(osp.basename(p))['models']
        expected = '<student>' if teacher_free else '<teacher>-<student>'
        assert ('-' in models) != teacher_free, (
            f'{p}: expected {expected} in the name, got {models!r}')


def test_name_regex_examples():
    era = name_regex('era')
    m = era.match('era-fast_retinanet_r34w32-r18w16_fpn_500it_synthetic.py')
    assert m and m['variant'] == 'fast' and m['models'] == 'r34w32-r18w16'
    m = era.match('era_retinanet_r101-r50_fpn_1x_coco.py')
    assert m['schedule'] == '1x' and m['variant'] is None
    for bad in ('retinanet_r101_to_r50_coco.py',  # the old names
                'era_r34w32_to_r18w16_synthetic.py',
                'fitnet_retinanet_r101-r50_fpn_1x_coco.py',  # other method
                'era_retinanet_r101-r50_fpn_1x_voc.py',  # unknown data
                'era_retinanet_r101-r50_1x_coco.py'):  # no neck
        assert not era.match(bad), bad
    tb = name_regex('trunk_branch')
    assert tb.match('trunk-branch_retinanet_r50_fpn_1x_coco.py')
    assert not tb.match('trunk_branch_r18w16_synthetic.py')
    tiny = name_regex('tiny')
    m = tiny.match('retinanet_mnv2_fpn_500it_deepforest-ood.py')
    assert m['data'] == 'deepforest-ood'


# -- what the names say = what the configs hold -----------------------------

# mmdet's RTMDet sizes: CSPNeXt-P5 (deepen_factor, widen_factor) -> name
CSPNEXT_SIZES = {(0.167, 0.375): 'tiny', (0.33, 0.5): 's', (0.67, 0.75): 'm',
                 (1.0, 1.0): 'l', (1.33, 1.25): 'x'}
# Swin (embed_dims, depths) -> size; mmpretrain's ConvNeXt arch -> size
SWIN_SIZES = {(96, (2, 2, 6, 2)): 't', (96, (2, 2, 18, 2)): 's',
              (128, (2, 2, 18, 2)): 'b', (192, (2, 2, 18, 2)): 'l'}
CONVNEXT_ARCHS = {'tiny': 't', 'small': 's', 'base': 'b', 'large': 'l',
                  'xlarge': 'xl'}


def _backbone_tokens(backbone: dict) -> tuple:
    """The name tokens of a backbone: ``r18w16`` (ResNet-18, base width
    16), ``r50``, ``mnv2``, ``d53`` (Darknet-53), ``swint`` (Swin-T),
    ``convnextb`` (mmpretrain's ConvNeXt-B); CSPNeXt: ``cspnextw16`` (stem
    width 16, i.e. widen 0.25) and, at the factors of one of mmdet's RTMDet
    sizes, that size's name (``tiny``, ``s``, ``m``, ``l``, ``x``) too."""
    kind = backbone['type'].split('.')[-1]
    if kind == 'ResNet':
        width = backbone.get('base_channels', 64)
        return (f'r{backbone["depth"]}' +
                ('' if width == 64 else f'w{width}'), )
    if kind == 'MobileNetV2':
        return ('mnv2', )
    if kind == 'SwinTransformer':  # mmdet's; its defaults are Swin-T's
        size = SWIN_SIZES.get((backbone.get('embed_dims', 96),
                               tuple(backbone.get('depths', (2, 2, 6, 2)))))
        if size is not None:
            return (f'swin{size}', )
    if kind == 'ConvNeXt' and isinstance(backbone.get('arch', 'tiny'), str):
        arch = backbone.get('arch', 'tiny')  # mmpretrain's: 'base' or 'b'
        return (f'convnext{CONVNEXT_ARCHS.get(arch, arch)}', )
    if kind == 'Darknet':  # YOLOv3's
        return (f'd{backbone.get("depth", 53)}', )
    if kind == 'CSPNeXt' and backbone.get('arch', 'P5') == 'P5':
        deepen = float(backbone.get('deepen_factor', 1.0))
        widen = float(backbone.get('widen_factor', 1.0))
        tokens = (f'cspnextw{int(64 * widen)}', )  # mmdet's stem width
        size = CSPNEXT_SIZES.get((deepen, widen))
        return tokens if size is None else tokens + (size, )
    raise AssertionError(f'no name token for backbone {kind}')


def test_cspnext_backbone_tokens():
    rtmdet_tiny = dict(type='CSPNeXt', deepen_factor=0.167, widen_factor=0.375)
    assert _backbone_tokens(rtmdet_tiny) == ('cspnextw24', 'tiny')
    assert _backbone_tokens(
        dict(type='CSPNeXt', deepen_factor=0.167, widen_factor=0.25)) == (
            'cspnextw16', )
    assert _backbone_tokens(dict(type='mmdet.CSPNeXt')) == ('cspnextw64', 'l')
    with pytest.raises(AssertionError, match='no name token'):
        _backbone_tokens(dict(type='CSPNeXt', arch='P6'))


def _dataset(loader: dict) -> dict:
    dataset = loader['dataset']
    while 'dataset' in dataset:  # wrappers (RepeatDataset, ...)
        dataset = dataset['dataset']
    return dataset


def _needs_mmpretrain(teacher) -> bool:
    """Whether a teacher config imports mmpretrain (ConvNeXt teachers)."""
    from mmera.models.common.model_config import _config_file, _custom_imports
    return isinstance(teacher, str) and 'mmpretrain.models' in (
        _custom_imports(_config_file(teacher)) or [])


def _read_model(teacher):
    """The teacher's model dict; a config whose custom_imports cannot be
    imported here (mmpretrain without torchvision) is read without them."""
    from mmera.models import load_model_config
    from mmera.models.common.model_config import _config_file
    if _needs_mmpretrain(teacher) and not mmpretrain_imports():
        return Config.fromfile(_config_file(teacher),
                               import_custom_modules=False).model
    return load_model_config(teacher)


def is_kd_detector(model: dict) -> bool:
    """Whether a model config is mmdet's KD detector (LD)."""
    return model['type'].split('.')[-1] == KD_DETECTOR


def student_and_teacher(cfg: Config) -> tuple:
    """The student's model dict and the teacher's config (a path, an
    ``mmdet::`` path, a dict, or None) of a config: an mmera distiller's
    ``student`` and ``teacher_config``; mmdet's KD detector itself and its
    ``teacher_config``; a plain detector (``configs/tiny/``, the baselines)
    and the config's top-level ``teacher_config`` (the teacher whose
    checkpoint a head-initialised baseline starts its head from)."""
    from mmera.models import load_model_config
    model = cfg.model
    if 'student' in model:
        return load_model_config(model.student), model.get('teacher_config')
    if is_kd_detector(model):
        return model, model.teacher_config
    return model, cfg.get('teacher_config')


def _detector_name(model: dict) -> str:
    if is_kd_detector(model):
        return KD_HEAD_DETECTORS[model['bbox_head']['type'].split('.')[-1]]
    return model['type'].split('.')[-1].lower()


def _check_name_against_config(rel: str, cfg: Config) -> None:
    method_dir = osp.dirname(rel)
    m = name_regex(method_dir).match(osp.basename(rel))
    assert m, rel
    student, teacher = student_and_teacher(cfg)
    teacher = None if teacher is None else _read_model(teacher)
    # detector, backbones, neck
    assert _detector_name(student) == m['detector'], rel
    assert student['neck']['type'].split('.')[-1].lower() == m['neck'], rel
    tokens = m['models'].split('-')
    assert tokens[-1] in _backbone_tokens(student['backbone']), (
        f'{rel}: the student backbone is '
        f'{_backbone_tokens(student["backbone"])}, the name says '
        f'{tokens[-1]}')
    if len(tokens) == 2:
        assert teacher is not None, f'{rel}: the name has a teacher'
        assert tokens[0] in _backbone_tokens(teacher['backbone']), (
            f'{rel}: the teacher backbone is '
            f'{_backbone_tokens(teacher["backbone"])}, the name says '
            f'{tokens[0]}')
    else:
        assert teacher is None, f'{rel}: a teacher the name does not show'
    # schedule
    schedule, loop = m['schedule'], cfg.train_cfg
    if schedule.endswith('x'):  # mmdet: 1x = 12 epochs
        assert loop['type'].endswith('EpochBasedTrainLoop'), (rel, loop)
        assert loop['max_epochs'] == 12 * int(schedule[:-1]), (rel, loop)
    elif schedule.endswith('e'):  # epochs, as mmdet's RTMDet configs
        assert loop['type'].endswith('EpochBasedTrainLoop'), (rel, loop)
        # mmdet names a repeated dataset's schedule in passes over the
        # data (YOLOv3 MobileNetV2: 30 epochs of 10 repeats is "300e")
        repeats = cfg.train_dataloader['dataset'].get('times', 1)
        assert loop['max_epochs'] * repeats == int(schedule[:-1]), (
            rel, loop, repeats)
    else:
        assert loop['type'].endswith('IterBasedTrainLoop'), (rel, loop)
        assert loop['max_iters'] == int(schedule[:-2]), (rel, loop)
    # data
    data = m['data']
    root = osp.normpath(_dataset(cfg.train_dataloader)['data_root'])
    assert root.endswith(osp.join('data', data.split('-')[0])), (
        f'{rel}: trains on {root}, the name says {data}')
    side = data.split('-')[1] if data.count('-') else None
    if side and side.isdigit():  # the set at another image side
        for loader in (cfg.train_dataloader, cfg.test_dataloader):
            sizes = [t['scale'] for t in _dataset(loader)['pipeline']
                     if t['type'] == 'Resize']
            assert sizes == [(int(side), int(side))], (rel, sizes)
    test_ann = _dataset(cfg.test_dataloader)['ann_file']
    assert test_ann.endswith('instances_test.json') == data.endswith('-ood'), (
        f'{rel}: tests on {test_ann}, the name says {data}')


@pytest.fixture(scope='module')
def models_registry():
    import torch
    from mmdet.utils import register_all_modules
    register_all_modules()
    from mmdet.registry import MODELS

    import mmera  # noqa: F401
    # building = random init of ~100 M parameters per COCO pair: faster on
    # one thread on this shared 2-core machine
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield MODELS
    torch.set_num_threads(threads)


@pytest.mark.parametrize('rel', all_configs())
def test_config_loads_builds_and_matches_its_name(rel, models_registry):
    cfg = Config.fromfile(osp.join(CONFIGS, rel))
    target = ALIASES.get(rel, rel)
    _check_name_against_config(target, cfg)
    # random weights: building runs no init_weights (no download) and reads
    # no teacher checkpoint (the shipped ones are URLs or work_dirs/ files)
    if _needs_mmpretrain(cfg.model.get('teacher_config')) and (
            not mmpretrain_imports()):
        # the ConvNeXt teacher cannot be built here: the error says why
        with pytest.raises(ImportError, match="custom_imports.*"
                           "'mmpretrain.models'.*torchvision"):
            models_registry.build(cfg.model)
        return
    if is_kd_detector(cfg.model):
        # mmdet's LD detector builds its teacher and reads teacher_ckpt in
        # __init__ (a download for COCO): built here without the checkpoint
        cfg.model.teacher_ckpt = None
        model = models_registry.build(cfg.model)
        assert not model.is_init
        assert isinstance(model.teacher_model, torch.nn.Module), rel
        assert not any(k.startswith('teacher') for k in model.state_dict())
        return
    model = models_registry.build(cfg.model)
    assert not model.is_init
    if cfg.model.get('teacher_config') is not None:
        assert model.teacher is not None and not model.teacher_loaded, rel
        assert model.teacher_ckpt == cfg.model.teacher_ckpt
    assert sum(p.numel() for p in model.parameters()) > 0
