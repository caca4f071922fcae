"""The fixtures of the package's tests (``tests/conftest.py``: a tiny
synthetic set, tiny configs on it, ``one_thread``), shared here."""
import importlib.util
import os.path as osp
import sys

_TESTS = osp.join(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))), 'tests')
sys.path.insert(0, _TESTS)  # cli_helpers, which tests/conftest.py imports
_spec = importlib.util.spec_from_file_location(
    'mmera_tests_conftest', osp.join(_TESTS, 'conftest.py'))
_shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_shared)

one_thread = _shared.one_thread
synthetic_root = _shared.synthetic_root
tiny_student_config = _shared.tiny_student_config
tiny_teacher_ckpt = _shared.tiny_teacher_ckpt
tiny_era_config = _shared.tiny_era_config
make_tiny_config = _shared.make_tiny_config
