# What every mmera config declares on top of mmdet's runtime, so that mmdet's
# own tools/train.py (and `mim train mmdet`) give the same run as mmera's:
# mmera imported (its components registered) and mmera's runner (atomic
# checkpoints, exact resume, CPU start-up, pre-flight checks). Only keys the
# mmdet bases do not set: mmengine refuses duplicate keys across `_base_`
# files. The checked dataset type goes in each config's own body.
custom_imports = dict(imports=['mmera'], allow_failed_imports=False)
runner_type = 'mmdet.MMERARunner'
