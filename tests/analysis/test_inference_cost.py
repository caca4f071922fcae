"""ERA's inference modes' cost: S is the student's own forward; T adds
MBRNet and the teacher's head and drops the student's; ST runs both heads;
the model's mode comes back as it was."""
import torch

from mmera.analysis.flops import count_flops, detector_flops
from mmera.analysis.inference_cost import era_mode_costs
from mmera.analysis.pair_probe import build_method

TEACHER = 'configs/tiny/retinanet_r34w32_fpn_500it_synthetic.py'
STUDENT = 'configs/tiny/retinanet_r18w16_fpn_500it_synthetic.py'


def test_mode_costs_of_a_tiny_pair(one_thread):
    model = build_method('ERA', TEACHER, STUDENT)
    model.set_inference_mode('S', 0.3)
    model.train()
    costs = era_mode_costs(model, 64, repeats=1)
    assert list(costs) == ['S', 'T', 'ST']
    assert model.training and (model.inference_mode, model.alpha) == (
        'S', 0.3)
    x = torch.zeros(1, 3, 64, 64)
    model.eval()
    feats = list(model.student.extract_feat(x))
    student_head = count_flops(model.student.bbox_head, (feats, ))
    twi_head = count_flops(lambda f: model.twi([f]), (feats, ), model)
    assert round(costs['S']['gflops'] * 1e9) == detector_flops(
        model.student, 64)
    # T = S - the student's head + MBRNet + the teacher's head (the heads
    # are alike here), ST = T + the student's head
    mbrnet = (costs['T']['gflops'] - costs['S']['gflops']) * 1e9 \
        + student_head - twi_head
    assert mbrnet > 0
    assert abs(costs['ST']['gflops'] * 1e9 - (
        costs['T']['gflops'] * 1e9 + student_head)) < 1e3
    for row in costs.values():
        assert row['ms'] > 0 and row['gflops_ratio'] > 0
    assert costs['S']['ms_ratio'] == 1.0
