"""Paths and a runner for the tools/ scripts, and what this environment
can import, shared by the tests."""
import os
import os.path as osp
import subprocess
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOOLS = osp.join(REPO_ROOT, 'tools')


def run_tool(args, cwd, timeout=600, check=True):
    """Runs a tools/ script with this interpreter, as a user would."""
    # One thread: the tiny models run faster on one core than on two, and
    # the machine's two cores stay free for pytest and a second process.
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    proc = subprocess.run([sys.executable] + list(args),
                          cwd=str(cwd),
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} failed ({proc.returncode}):\n'
                             f'{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}')
    return proc


def mmpretrain_imports() -> bool:
    """Whether ``import mmpretrain.models`` works here (it imports
    torchvision, which has no build beside this project's CPU torch)."""
    try:
        import mmpretrain.models  # noqa: F401
    except ImportError:
        return False
    return True
