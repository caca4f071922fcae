"""Distributed start-up on CPU-only machines.

mmengine 0.10.7 assumes a GPU per process in two places: ``init_dist`` calls
``torch.cuda.set_device`` whatever the backend (fails on a CPU build of
torch), and ``Runner.wrap_model`` passes ``device_ids=[LOCAL_RANK]`` to DDP
(which DDP rejects for CPU modules). When there is no CUDA device
:class:`~mmera.engine.runner.MMERARunner` initialises the process group here
(gloo) before mmengine's start-up, which then skips its own, and wraps the
model with ``device_ids=None``.
"""
import os
import subprocess
from datetime import timedelta

import torch.distributed as torch_dist
from mmengine.device import get_device


def init_cpu_distributed(launcher: str, timeout_s: int = 1800) -> bool:
    """Initialises a gloo process group for ``launcher`` on a CPU-only machine.

    Args:
        launcher: ``'none'``, ``'pytorch'`` (torchrun) or ``'slurm'`` (srun).
        timeout_s: Collective timeout in seconds.

    Returns:
        bool: Whether this call initialised the process group.

    Raises:
        ValueError: For a launcher that has no CPU start-up here (``'mpi'``).
    """
    if (launcher == 'none' or get_device() != 'cpu'
            or torch_dist.is_initialized()):
        return False
    if launcher == 'slurm':
        _export_slurm_env()
    elif launcher != 'pytorch':
        raise ValueError(
            f'--launcher {launcher} is not supported on a CPU-only '
            'machine; use --launcher pytorch (torchrun) or slurm.')
    torch_dist.init_process_group(
        backend='gloo', timeout=timedelta(seconds=timeout_s))
    return True


def _export_slurm_env() -> None:
    # Same variables mmengine derives for slurm, so env:// init works.
    proc_id = int(os.environ['SLURM_PROCID'])
    ntasks = int(os.environ['SLURM_NTASKS'])
    tasks_per_node = int(os.environ.get('SLURM_NTASKS_PER_NODE', ntasks))
    if 'MASTER_ADDR' not in os.environ:
        node_list = os.environ['SLURM_NODELIST']
        os.environ['MASTER_ADDR'] = subprocess.getoutput(
            f'scontrol show hostname {node_list} | head -n1')
    os.environ.setdefault('MASTER_PORT', '29500')
    os.environ['WORLD_SIZE'] = str(ntasks)
    os.environ['RANK'] = str(proc_id)
    os.environ['LOCAL_RANK'] = str(proc_id % tasks_per_node)
