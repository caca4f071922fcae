"""RKD through the real tools: train the shipped synthetic config, export the
student and load it strictly into stock mmdet; the cost tool's table; the
shipped configs."""
import importlib
import os.path as osp
import re

import pytest
import torch
from cli_helpers import REPO_ROOT, TOOLS, run_tool
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmera  # noqa: F401  (lets torch.load read mmengine checkpoints)

STUDENT_CFG = osp.join(REPO_ROOT, 'configs', 'tiny',
                       'retinanet_r18w16_fpn_500it_synthetic.py')
RKD_CONFIGS = osp.join(REPO_ROOT, 'configs', 'rkd')
SYNTHETIC = 'configs/rkd/rkd_retinanet_r34w32-r18w16_fpn_500it_synthetic.py'


def _rkd_cost_module():
    return importlib.import_module('benchmarks.rkd_cost')


def test_rkd_train_export_and_stock_load(make_tiny_config, tiny_teacher_ckpt,
                                         synthetic_root, tmp_path):
    config = make_tiny_config(SYNTHETIC, f"""
        model = dict(teacher_ckpt={tiny_teacher_ckpt!r},
                     student=dict(test_cfg=dict(score_thr=0.0, nms_pre=100,
                                                max_per_img=20)))
        custom_hooks = [dict(type='DistillLossWarmupHook', warmup_iters=4),
                        dict(type='ExportStudentHook')]
        """, val_interval=1000)
    work = tmp_path / 'rkd'
    proc = run_tool([osp.join(TOOLS, 'train.py'), config, '--work-dir',
                     str(work)], cwd=tmp_path)
    log = proc.stdout + proc.stderr
    for name in ('loss_cls', 'loss_bbox', 'rkd.loss_mimic',
                 'rkd.loss_residual'):
        assert f' {name}: ' in log, name
    residual = [float(v) for v in re.findall(r'rkd\.loss_residual: (\S+)',
                                             log)]
    assert len(residual) == 4 and all(v > 0 for v in residual)

    # equal FPN channels: no adapter, so the checkpoint is the student alone
    ckpt = torch.load(work / 'iter_4.pth', map_location='cpu')
    assert {k.split('.')[0] for k in ckpt['state_dict']} == {'student'}

    out = tmp_path / 'student.pth'
    run_tool([osp.join(TOOLS, 'export_student.py'), config,
              str(work / 'iter_4.pth'), str(out)], cwd=tmp_path)
    exported = torch.load(out, map_location='cpu')['state_dict']
    hooked = torch.load(work / 'student_final.pth',
                        map_location='cpu')['state_dict']
    assert exported.keys() == hooked.keys()
    assert all(torch.equal(exported[k], hooked[k]) for k in exported)

    init_default_scope('mmdet')
    stock_cfg = Config.fromfile(STUDENT_CFG)
    stock_cfg.model.test_cfg.update(score_thr=0.0, nms_pre=100, max_per_img=20)
    stock = MODELS.build(stock_cfg.model)
    stock.load_state_dict(exported, strict=True)

    # the trained distiller predicts exactly what the stock student predicts
    rkd_cfg = Config.fromfile(config)
    rkd_cfg.model.teacher_ckpt = None
    distiller = MODELS.build(rkd_cfg.model)
    distiller.load_state_dict(ckpt['state_dict'], strict=True)
    from mmdet.apis import inference_detector
    stock.cfg = distiller.cfg = stock_cfg  # only the test pipeline is read
    img = osp.join(synthetic_root, 'val', '000000.png')
    a = inference_detector(stock.eval(), img).pred_instances
    b = inference_detector(distiller.eval(), img).pred_instances
    assert len(a) > 0
    assert torch.equal(a.bboxes, b.bboxes) and torch.equal(a.labels, b.labels)
    assert torch.equal(a.scores, b.scores)


@pytest.fixture
def single_thread():
    """One thread: faster for these tiny models on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_rkd_cost_tool_measures_equal_cost(tmp_path, single_thread):
    cost = _rkd_cost_module()
    rows = {r['model'].strip(): r for r in cost.measure(
        osp.join(REPO_ROOT, SYNTHETIC), 64, 64)}
    plain = rows['plain student']
    assert plain['params'] > 0 and plain['flops'] > 0
    for name in ('RKD deployed (exported student)',
                 'RKD training-time student (split FPN + adapter)'):
        assert (rows[name]['params'], rows[name]['flops']) == (
            plain['params'], plain['flops']), name
    assert rows['of which adapter (on S and on A)']['params'] == 0
    # S + A: one add per element of the 64-channel levels 8x8 ... 1x1, 1x1
    adds = 64 * (8**2 + 4**2 + 2**2 + 1 + 1)
    assert rows['S + A element-wise adds (not in FlopAnalyzer)'][
        'flops'] == adds
    assert rows['teacher (training only, frozen)']['params'] > plain['params']

    # a forced adapter: its 1x1 convs are the only extra cost, run on S and A
    forced = tmp_path / 'rkd_adapter.py'
    forced.write_text(f"_base_ = {osp.join(REPO_ROOT, SYNTHETIC)!r}\n"
                      "model = dict(adapter='conv')\n")
    rows = {r['model'].strip(): r for r in cost.measure(str(forced), 64, 64)}
    adapter = rows['of which adapter (on S and on A)']
    assert adapter['params'] == 5 * 64 * 64
    assert adapter['flops'] == 2 * 64 * adds
    train = rows['RKD training-time student (split FPN + adapter)']
    assert train['params'] == plain['params'] + adapter['params']
    assert train['flops'] == plain['flops'] + adapter['flops']
    assert _table_has_rows(cost.table(list(rows.values())), rows)

    with pytest.raises(SystemExit, match='is not an RKD config'):
        cost.measure(STUDENT_CFG, 64, 64)


def _table_has_rows(text, rows):
    return all(f'{r["params"]:,d}' in text and f'{r["flops"]:,d}' in text
               for r in rows.values())


def test_rkd_configs_build_as_documented(single_thread):
    init_default_scope('mmdet')
    coco = Config.fromfile(osp.join(RKD_CONFIGS,
                                    'rkd_retinanet_r101-r50_fpn_1x_coco.py'))
    assert coco.model.type == 'RKDDistiller'
    assert coco.model.student.backbone.depth == 50
    assert coco.model.student.neck.out_channels == 256
    assert coco.model.teacher_config.endswith('retinanet_r101_fpn_1x_coco.py')
    assert coco.model.teacher_ckpt.startswith('https://download.openmmlab')
    splits = {
        # R50 -> R101: 256-channel FPNs, P6's conv reads the 2048-channel C5
        'rkd_retinanet_r101-r50_fpn_1x_coco.py': [128, 128, 128, 1024, 128],
        # 64-channel FPNs, P6's conv reads the 128-channel C5
        'rkd_retinanet_r34w32-r18w16_fpn_500it_synthetic.py':
        [32, 32, 32, 64, 32],
        'rkd_retinanet_mnv2-r18w16_fpn_500it_deepforest.py':
        [32, 32, 32, 64, 32],
    }
    for name, split_index in splits.items():
        cfg = Config.fromfile(osp.join(RKD_CONFIGS, name))
        assert 'ExportStudentHook' in {h['type'] for h in cfg.custom_hooks}
        model = MODELS.build(cfg.model)  # random weights; nothing loads
        # equal FPN channels on both sides: no adapter, the plain student
        assert model.adapter.convs is None
        assert {k.split('.')[0] for k in model.state_dict()} == {'student'}
        assert model.split_neck.split_index == split_index
        x = torch.randn(1, 3, 64, 64)
        with torch.no_grad():
            s_feats, a_feats = model.split_features(x)
            plain = model.student.extract_feat(x)
            teacher = model.teacher.extract_feat(x)
        for s, a, p, t in zip(s_feats, a_feats, plain, teacher):
            assert torch.allclose(s + a, p, atol=1e-5)
            assert s.shape == t.shape
