# ERA ablation on the synthetic set (`python
# python -m benchmarks --suites synthetic-ablations`): ERA with the
# student's head started from the teacher's (init_student_head=True), the
# proposal after the head-initialised student alone beat ERA on seed 0.
# Everything else is ERA's config.
_base_ = './era_retinanet_r34w32-r18w16_fpn_500it_synthetic.py'

model = dict(init_student_head=True)
