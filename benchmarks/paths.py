"""Where the checkout's configs, tools, data and work dirs are.

The harness drives the scripts of a source checkout (``make setup``
installs mmera from it in editable mode), so every path is anchored at the
repository root (the parent of ``benchmarks/``), like the configs anchor
theirs with ``{{ fileDirname }}``: they work from any current directory.
"""
import os.path as osp

#: The repository root (the directory holding ``configs/`` and ``tools/``).
REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: The default root of the work dirs, ``<repo>/work_dirs``.
WORK_DIRS = osp.join(REPO_ROOT, 'work_dirs')
#: ``tools/train.py``, which every run goes through.
TRAIN_TOOL = osp.join(REPO_ROOT, 'tools', 'train.py')


def repo_path(path: str) -> str:
    """Returns ``path`` anchored at the repository root.

    Args:
        path: A path relative to the repository (e.g.
            ``'configs/tiny/retinanet_r18w16_fpn_500it_synthetic.py'``); an
            absolute path is returned unchanged.

    Returns:
        str: The absolute path.
    """
    return osp.join(REPO_ROOT, path)
