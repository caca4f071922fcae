"""SSKD through the real tools: tools/train.py switches the phases within a
4-iteration run, a resume from the middle lands in the right phase with the
right parts frozen, and the exported student loads in stock mmdet."""
import os.path as osp
import re
import runpy
import sys

import torch
from cli_helpers import REPO_ROOT, TOOLS, run_tool
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmera  # noqa: F401  (lets torch.load read mmengine checkpoints)

TRAIN = osp.join(TOOLS, 'train.py')
STUDENT_CFG = osp.join(REPO_ROOT, 'configs', 'tiny',
                       'retinanet_r18w16_fpn_500it_synthetic.py')
TEST_CFG = dict(score_thr=0.0, nms_pre=100, max_per_img=20)
# Pairs (1, 1), (2, 2), (3, 3): phase 0 trains stem + layer1 + layer2,
# phase 1 layer3, phase 2 layer4, phase 3 (from iteration 3) neck + head.
EXTRA = """
model = dict(teacher_ckpt={ckpt!r}, stage_pairs=[(1, 1), (2, 2), (3, 3)],
             student=dict(test_cfg={test_cfg!r}))
custom_hooks = [
    dict(type='SSKDStageHook', stage_boundaries=[1, 2, 3]),
    dict(type='ExportStudentHook'),
]
"""
# parts iterations 2-3 (phases 2 and 3) must leave untouched
FROZEN_AFTER_2 = ('student.backbone.conv1.', 'student.backbone.bn1.',
                  'student.backbone.layer1.', 'student.backbone.layer2.',
                  'student.backbone.layer3.', 'adapters.0.', 'adapters.1.')
TRAINED_AFTER_2 = ('student.backbone.layer4.', 'adapters.2.', 'student.neck.',
                   'student.bbox_head.')


def _state(path):
    return torch.load(path, map_location='cpu')['state_dict']


def _iters(log, total=4):
    return [int(m) for m in re.findall(rf'Iter\(train\) \[\s*(\d+)/{total}\]',
                                       log)]


def _run_in_process(script, args):
    """Runs a tools/ script as ``python script args`` would, in this process
    (mmdet is imported already: saves an interpreter start)."""
    argv = sys.argv
    sys.argv = [script] + [str(a) for a in args]
    sys.path.insert(0, TOOLS)
    try:
        runpy.run_path(script, run_name='__main__')
    finally:
        sys.argv = argv
        sys.path.remove(TOOLS)


def _logged_phases(log):
    return [int(float(v)) for v in re.findall(r'sskd\.phase: (\S+)', log)]


def test_sskd_train_resume_mid_schedule_and_export(make_tiny_config,
                                                   tiny_teacher_ckpt,
                                                   synthetic_root, tmp_path):
    config = make_tiny_config(
        'configs/sskd/sskd_retinanet_r34w32-r18w16_fpn_500it_synthetic.py',
        EXTRA.format(ckpt=tiny_teacher_ckpt, test_cfg=TEST_CFG),
        val_interval=100)
    work = tmp_path / 'sskd'
    proc = run_tool([TRAIN, config, '--work-dir', str(work)], cwd=tmp_path)
    log = proc.stdout + proc.stderr
    for it, phase in ((0, 0), (1, 1), (2, 2), (3, 3)):
        assert f'SSKD: iteration {it}: phase {phase}/3' in log, log[-3000:]
    assert 'phase 3/3: task: backbone frozen' in log
    assert _logged_phases(log) == [0, 1, 2, 3]
    # mimic losses first; the detection losses only in the task phase
    lines = {i: line for line in log.splitlines()
             for i in _iters(line)}
    assert 'sskd.loss_mimic' in lines[1] and 'loss_cls' not in lines[3]
    assert 'loss_cls' in lines[4] and 'loss_bbox' in lines[4]

    # iterations 2-3 (phases 2, 3) left the earlier stages bit-identical,
    # BN statistics included, and trained layer4, the neck and the head
    mid, end = _state(work / 'iter_2.pth'), _state(work / 'iter_4.pth')
    assert {k.split('.')[0] for k in end} == {'student', 'adapters'}
    for key in end:
        if key.startswith(FROZEN_AFTER_2):
            assert torch.equal(mid[key], end[key]), key
    for prefix in TRAINED_AFTER_2:
        assert any(not torch.equal(mid[k], end[k]) for k in end
                   if k.startswith(prefix) and k.endswith('weight')), prefix
    assert not torch.equal(mid['student.backbone.layer4.0.bn1.running_mean'],
                           end['student.backbone.layer4.0.bn1.running_mean'])

    # resume from iteration 2 in a fresh work dir: phase 2 at once, then the
    # task phase; the run ends at iteration 4 as the uninterrupted one did
    work2 = tmp_path / 'resumed'
    proc = run_tool([TRAIN, config, '--work-dir', str(work2), '--resume',
                     str(work / 'iter_2.pth')], cwd=tmp_path)
    log = proc.stdout + proc.stderr
    assert 'resumed epoch: 0, iter: 2' in log, log[-3000:]
    assert 'SSKD: iteration 2: phase 2/3' in log
    assert 'SSKD: iteration 3: phase 3/3' in log
    assert 'phase 0/3' not in log and 'phase 1/3' not in log
    assert _iters(log) == [3, 4]
    assert _logged_phases(log) == [2, 3]
    ckpt = torch.load(work2 / 'iter_4.pth', map_location='cpu')
    assert ckpt['meta']['iter'] == 4
    resumed = ckpt['state_dict']
    for key in resumed:
        if key.startswith(FROZEN_AFTER_2):
            assert torch.equal(mid[key], resumed[key]), key
        # same data, weights and optimizer state: the same result
        assert torch.allclose(resumed[key].float(), end[key].float(),
                              atol=1e-5), key

    # tools/export_student.py: the plain student, strict in stock mmdet, and
    # the same as the hook's export
    out = tmp_path / 'student.pth'
    _run_in_process(osp.join(TOOLS, 'export_student.py'),
                    [config, work / 'iter_4.pth', out])
    exported = _state(out)
    hooked = _state(work / 'student_final.pth')
    assert exported.keys() == hooked.keys()
    assert all(torch.equal(exported[k], hooked[k]) for k in exported)
    init_default_scope('mmdet')
    stock_cfg = Config.fromfile(STUDENT_CFG)
    stock_cfg.model.test_cfg.update(TEST_CFG)
    stock = MODELS.build(stock_cfg.model)
    stock.load_state_dict(exported, strict=True)

    # the stock student predicts what the distiller predicts
    sskd_cfg = Config.fromfile(config)
    sskd_cfg.model.teacher_ckpt = None
    distiller = MODELS.build(sskd_cfg.model)
    distiller.load_state_dict(end)
    from mmdet.apis import inference_detector
    stock.cfg = distiller.cfg = stock_cfg  # only the test pipeline is read
    stock.eval()
    distiller.eval()
    img = osp.join(synthetic_root, 'val', '000000.png')
    a = inference_detector(stock, img).pred_instances
    b = inference_detector(distiller, img).pred_instances
    assert len(a) > 0
    assert torch.equal(a.labels, b.labels)
    assert torch.allclose(a.bboxes, b.bboxes)
    assert torch.allclose(a.scores, b.scores)
