# ERA's cheap setting at the 8000-iteration schedule at 192 px with the
# student's head started from the teacher's (init_student_head=True; the two
# GFLHeads match): the base config with that one option changed.
_base_ = './era-fast_gfl_r34w32-r18w16_fpn_8000it_synthetic-192.py'

model = dict(init_student_head=True)
