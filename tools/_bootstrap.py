"""Makes ``import mmera`` work for the tools from any working directory.

``make setup`` installs mmera in editable mode, so this is a no-op there; it
only helps a checkout whose package was not installed (e.g. a fresh clone used
with an existing OpenMMLab environment).
"""
import os.path as osp
import sys


def ensure_mmera_importable() -> None:
    """Puts the repository root on ``sys.path`` if mmera is not installed."""
    try:
        import mmera  # noqa: F401
    except ImportError:
        sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
