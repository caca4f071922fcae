"""ERA through the real tools: train with the hooks, test without the
teacher checkpoint, export the student and load it in stock mmdet."""
import json
import os.path as osp
import re

import torch
from cli_helpers import REPO_ROOT, TOOLS, run_tool
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmera  # noqa: F401  (lets torch.load read mmengine checkpoints)
from mmera.models import load_model_config

STUDENT_CFG = osp.join(REPO_ROOT, 'configs', 'tiny',
                       'retinanet_r18w16_fpn_500it_synthetic.py')


def test_era_train_hooks_test_export(tiny_era_config, synthetic_root,
                                     tmp_path):
    work = tmp_path / 'era'
    proc = run_tool([osp.join(TOOLS, 'train.py'), tiny_era_config,
                     '--work-dir', str(work)], cwd=tmp_path)
    log = proc.stdout + proc.stderr
    # the student's losses and the prefixed ERA losses are all logged
    for name in ('loss_cls', 'loss_bbox', 'era.loss_mimic',
                 'era.loss_residual', 'era.loss_twi'):
        assert f' {name}: ' in log, name
    # warm-up: the ERA losses start at a quarter of their weight
    mimic = [float(v) for v in re.findall(r'era\.loss_mimic: (\S+)', log)]
    assert len(mimic) == 4 and mimic[0] < mimic[-1]

    ckpt = torch.load(work / 'iter_4.pth', map_location='cpu')
    prefixes = {k.split('.')[0] for k in ckpt['state_dict']}
    assert prefixes == {'student', 'mbrnet', 'twi'}, prefixes

    sweep = json.loads((work / 'alpha_sweep.json').read_text())
    assert set(sweep[-1]['results']) == {'0.0', '1.0'}
    assert 'ST-mode sweep alpha=0.0' in log

    # tools/test.py on the ERA config needs no teacher checkpoint
    proc = run_tool([
        osp.join(TOOLS, 'test.py'), tiny_era_config,
        str(work / 'iter_4.pth'), '--work-dir', str(tmp_path / 'test'),
        '--cfg-options', 'model.teacher_ckpt=/nonexistent/teacher.pth',
        'model.inference_mode=T'
    ], cwd=tmp_path)
    assert re.search(r'coco/bbox_mAP: \d', proc.stdout + proc.stderr)

    # the hook's student checkpoint and tools/export_student.py agree and
    # load strictly into the stock student config
    out = tmp_path / 'student.pth'
    run_tool([osp.join(TOOLS, 'export_student.py'), tiny_era_config,
              str(work / 'iter_4.pth'), str(out)], cwd=tmp_path)
    exported = torch.load(out, map_location='cpu')['state_dict']
    hooked = torch.load(work / 'student_final.pth',
                        map_location='cpu')['state_dict']
    assert exported.keys() == hooked.keys()
    assert all(torch.equal(exported[k], hooked[k]) for k in exported)

    init_default_scope('mmdet')
    stock_cfg = Config.fromfile(STUDENT_CFG)
    # the same test_cfg the ERA test config gives its student
    stock_cfg.model.test_cfg.update(score_thr=0.0, nms_pre=100, max_per_img=20)
    stock = MODELS.build(stock_cfg.model)
    missing, unexpected = stock.load_state_dict(exported, strict=False)
    assert not missing and not unexpected

    # the stock student predicts exactly what the distiller predicts in S
    era_cfg = Config.fromfile(tiny_era_config)
    era_cfg.model.teacher_ckpt = None
    distiller = MODELS.build(era_cfg.model)
    distiller.load_state_dict(ckpt['state_dict'])
    distiller.eval()
    stock.eval()
    from mmdet.apis import inference_detector
    stock.cfg = stock_cfg
    distiller.cfg = stock_cfg  # inference_detector reads only its pipeline
    img = osp.join(synthetic_root, 'val', '000000.png')
    a = inference_detector(stock, img).pred_instances
    b = inference_detector(distiller, img).pred_instances
    assert len(a) > 0
    assert torch.allclose(a.bboxes, b.bboxes) and torch.equal(a.labels,
                                                              b.labels)
    assert torch.allclose(a.scores, b.scores)


def test_export_rejects_a_plain_detector_checkpoint(tiny_student_config,
                                                    tiny_era_config,
                                                    tmp_path):
    init_default_scope('mmdet')
    stock = MODELS.build(load_model_config(STUDENT_CFG))
    plain = tmp_path / 'plain.pth'
    torch.save({'state_dict': stock.state_dict()}, plain)
    proc = run_tool([osp.join(TOOLS, 'export_student.py'), tiny_era_config,
                     str(plain), str(tmp_path / 'out.pth')], cwd=tmp_path,
                    check=False)
    assert proc.returncode != 0
    assert 'is it a distiller checkpoint?' in proc.stderr
    assert not (tmp_path / 'out.pth').exists()
