"""A plain mmdet config with ``custom_imports=['mmera']`` builds and sees
mmera."""
import subprocess
import sys
import textwrap


def test_plain_mmdet_config_with_custom_imports_builds(tmp_path):
    cfg_file = tmp_path / 'plain_mmdet.py'
    cfg_file.write_text(textwrap.dedent("""
        _base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
        custom_imports = dict(imports=['mmera'], allow_failed_imports=False)
        model = dict(
            backbone=dict(depth=18, base_channels=8, init_cfg=None),
            neck=dict(in_channels=[8, 16, 32, 64], out_channels=16),
            bbox_head=dict(num_classes=3, in_channels=16, feat_channels=16,
                           stacked_convs=1))
        optim_wrapper = dict(type='CPUAmpOptimWrapper')
        """))
    # A fresh interpreter: nothing imports mmera except the config itself.
    script = textwrap.dedent(f"""
        import sys
        import torch
        from mmengine.config import Config
        from mmengine.registry import init_default_scope
        cfg = Config.fromfile({str(cfg_file)!r})
        assert 'mmera' in sys.modules, 'custom_imports did not import mmera'
        init_default_scope('mmdet')
        from mmdet.registry import MODELS, OPTIM_WRAPPERS
        model = MODELS.build(cfg.model)
        assert type(model).__name__ == 'RetinaNet'
        # an mmera component is found by its type name through mmdet
        wrapper = OPTIM_WRAPPERS.build(dict(
            type=cfg.optim_wrapper.type,
            optimizer=torch.optim.SGD(model.parameters(), lr=0.01)))
        assert type(wrapper).__module__.startswith('mmera.'), type(wrapper)
        out = model(torch.rand(1, 3, 64, 64), mode='tensor')
        assert len(out[0]) == 5  # five FPN levels of class scores
        print('built', type(model).__name__, type(wrapper).__name__)
        """)
    proc = subprocess.run([sys.executable, '-c', script],
                          capture_output=True,
                          text=True,
                          cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'built RetinaNet CPUAmpOptimWrapper' in proc.stdout
