"""The ERA / FitNet / PKD COCO configs for GFL, ATSS, FCOS and RTMDet: parse
only (no model build, no download). Each names the right mmdet teacher and
student, a model-zoo teacher checkpoint that mmdet's own metafile gives for
that teacher, and the method's settings; the RTMDet ones keep mmdet's own
hooks (EMAHook, PipelineSwitchHook) and add mmera's."""
import functools
import os.path as osp

import pytest
from cli_helpers import REPO_ROOT
from coco_offline import MMDET_CONFIGS, without_scope, zoo_weights
from mmengine.config import Config

CONFIGS = osp.join(REPO_ROOT, 'configs')

# name (without the method prefix) -> (teacher, student) mmdet configs
PAIRS = {
    'gfl_r101-r50_fpn_1x_coco':
    ('gfl/gfl_r101_fpn_ms-2x_coco.py', 'gfl/gfl_r50_fpn_1x_coco.py'),
    'atss_r101-r50_fpn_1x_coco':
    ('atss/atss_r101_fpn_1x_coco.py', 'atss/atss_r50_fpn_1x_coco.py'),
    'fcos_r101-r50_fpn_1x_coco':
    ('fcos/fcos_r101-caffe_fpn_gn-head-1x_coco.py',
     'fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py'),
    'rtmdet_s-tiny_cspnextpafpn_300e_coco':
    ('rtmdet/rtmdet_s_8xb32-300e_coco.py',
     'rtmdet/rtmdet_tiny_8xb32-300e_coco.py'),
    'rtmdet_l-m_cspnextpafpn_300e_coco':
    ('rtmdet/rtmdet_l_8xb32-300e_coco.py',
     'rtmdet/rtmdet_m_8xb32-300e_coco.py'),
}
METHODS = {'era': 'ERADistiller', 'fitnet': 'FitNetDistiller',
           'pkd': 'PKDDistiller'}
# the RetinaNet COCO config of each method: the settings to match
RETINANET = '{0}/{0}_retinanet_r101-r50_fpn_1x_coco.py'
MMERA_HOOKS = {
    'era': ['DistillLossWarmupHook', 'AlphaSweepHook', 'ExportStudentHook'],
    'fitnet': ['DistillLossWarmupHook', 'ExportStudentHook'],
    'pkd': ['ExportStudentHook'],
}
CASES = [(method, name) for method in METHODS for name in PAIRS]


# parsed once per module (the tests only read them)
@functools.lru_cache(maxsize=None)
def _load(method: str, name: str) -> Config:
    return Config.fromfile(osp.join(CONFIGS, method, f'{method}_{name}.py'))


@functools.lru_cache(maxsize=None)
def _mmdet(path: str) -> Config:
    return Config.fromfile(osp.join(MMDET_CONFIGS, path))


@functools.lru_cache(maxsize=None)
def _retinanet(method: str) -> Config:
    return Config.fromfile(osp.join(CONFIGS, RETINANET.format(method)))


@pytest.mark.parametrize('method, name', CASES)
def test_config_names_its_pair_and_method(method, name):
    cfg = _load(method, name)
    teacher, student = PAIRS[name]
    model = cfg.model
    assert model.type == METHODS[method]
    assert model.teacher_config == f'mmdet::{teacher}'
    # the student: mmdet's model config unchanged
    stock = _mmdet(student)
    assert without_scope(model.student) == without_scope(stock.model)
    assert model.student.type == stock.model.type
    # the schedule, optimizer and data are the student's (mmdet's)
    for key in ('train_cfg', 'optim_wrapper', 'param_scheduler'):
        assert without_scope(cfg[key]) == without_scope(stock[key]), key
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = cfg[loader].dataset
        assert dataset.type == 'CheckedCocoDataset', loader
        assert without_scope(dataset.pipeline) == without_scope(
            stock[loader].dataset.pipeline), loader
        assert dataset.ann_file == stock[loader].dataset.ann_file, loader
    assert cfg.custom_imports.imports == ['mmera']
    assert cfg.runner_type == 'mmdet.MMERARunner'
    # the teacher checkpoint: mmdet's published one for that config
    assert model.teacher_ckpt.startswith('https://')
    assert [model.teacher_ckpt] == zoo_weights(teacher)


@pytest.mark.parametrize('method, name', CASES)
def test_method_settings_follow_the_retinanet_config(method, name):
    cfg, ref = _load(method, name), _retinanet(method)
    rtmdet = name.startswith('rtmdet')
    skip = {'student', 'teacher_config', 'teacher_ckpt'}
    if method == 'era':
        # identical head shapes only for the R101 -> R50 pairs
        assert cfg.model.init_student_head is (not rtmdet)
        skip.add('init_student_head')
    if method == 'pkd' and rtmdet:
        # RTMDet's PAFPN has 3 levels (no P6): all of them
        assert cfg.model.levels is None
        skip.add('levels')
    for key, value in ref.model.items():
        if key not in skip:
            assert cfg.model[key] == value, key


def _hook_types(cfg):
    return [h['type'] for h in cfg.custom_hooks]


@pytest.mark.parametrize('method, name', CASES)
def test_mmera_hooks_added_to_mmdets(method, name):
    cfg = _load(method, name)
    stock_hooks = list(_mmdet(PAIRS[name][1]).get('custom_hooks', []))
    hooks = cfg.custom_hooks
    if name.startswith('rtmdet'):
        assert {'EMAHook', 'PipelineSwitchHook'} <= {
            h['type'] for h in stock_hooks}
    else:
        assert not stock_hooks
    # mmdet's hooks first, unchanged; then mmera's, as in the RetinaNet config
    assert without_scope(hooks[:len(stock_hooks)]) == without_scope(
        stock_hooks)
    assert _hook_types(cfg)[len(stock_hooks):] == MMERA_HOOKS[method]
    ref = _retinanet(method)
    for hook, ref_hook in zip(hooks[len(stock_hooks):], ref.custom_hooks):
        extra = {k: v for k, v in hook.items() if k not in ref_hook}
        assert {k: hook[k] for k in ref_hook} == ref_hook
        # ERA under EMAHook: the alpha sweep runs before EMAHook swaps the
        # raw weights back after validation (it blends the EMA weights)
        if stock_hooks and hook['type'] == 'AlphaSweepHook':
            ema = next(h for h in hooks if h['type'] == 'EMAHook')
            assert extra == {'priority': 48} and ema['priority'] == 49
        else:
            assert not extra, (hook['type'], extra)


@pytest.mark.parametrize('name', [n for n in PAIRS if n.startswith('rtmdet')])
def test_rtmdet_pipeline_switch_still_applies(name):
    """PipelineSwitchHook swaps the train dataset's pipeline for mmdet's
    stage-2 one: the dataset is a CheckedCocoDataset (a CocoDataset, with
    ``pipeline``), unwrapped, as in mmdet's config."""
    from mmdet.datasets import CocoDataset
    from mmdet.registry import DATASETS, HOOKS

    import mmera  # noqa: F401  (registers CheckedCocoDataset)

    stock = _mmdet(PAIRS[name][1])
    stage2 = next(h for h in stock.custom_hooks
                  if h['type'] == 'PipelineSwitchHook')
    for method in METHODS:
        cfg = _load(method, name)
        switch = next(h for h in cfg.custom_hooks
                      if h['type'] == 'PipelineSwitchHook')
        assert switch.switch_epoch == stage2.switch_epoch == 280
        assert without_scope(switch.switch_pipeline) == without_scope(
            stage2.switch_pipeline)
        dataset = cfg.train_dataloader.dataset
        assert 'dataset' not in dataset  # no wrapper in between
        assert issubclass(DATASETS.get(dataset.type), CocoDataset)
        # every hook of the list builds (no runner needed)
        for hook in cfg.custom_hooks:
            hook = dict(hook)
            hook.pop('priority', None)
            HOOKS.build(hook)
