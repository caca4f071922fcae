"""Files that appear under their final name only once they are complete.

A file is written to a hidden temporary name in the same directory, flushed to
disk (``fsync``), then renamed onto its final name with ``os.replace``, which
POSIX and Windows perform atomically within one file system. A reader (or a
resumed run) therefore sees either the previous complete file or the new
complete file, never a truncated one, whatever happens during the write
(crash, ``kill -9``, full disk, preemption of a cluster job).
"""
import os
import os.path as osp
from contextlib import contextmanager
from typing import Iterator


def temporary_name(path: str) -> str:
    """The temporary sibling ``path`` is written to before the rename.

    Hidden (leading dot) and without the final extension, so checkpoint
    listings (``*.pth``) and ``find_latest_checkpoint`` never pick it up; the
    process id keeps concurrent writers apart.
    """
    directory, name = osp.split(path)
    return osp.join(directory, f'.{name}.tmp-{os.getpid()}')


def _fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(tmp_path: str, path: str) -> None:
    """Moves the complete ``tmp_path`` onto ``path``, durably.

    The data is synced before the rename (otherwise a power loss after the
    rename could leave the new name pointing at unwritten blocks) and the
    directory after it (so the rename itself survives a power loss).
    """
    _fsync_path(tmp_path)
    os.replace(tmp_path, path)
    if hasattr(os, 'O_DIRECTORY'):  # directories cannot be opened on Windows
        _fsync_path(osp.dirname(osp.abspath(path)))


@contextmanager
def atomic_output(path: str) -> Iterator[str]:
    """Yields a temporary path to write; publishes it as ``path`` on success.

    If the body raises, the temporary file is removed and ``path`` (if it
    existed) is left untouched.

    Args:
        path: The final file name.

    Yields:
        str: The temporary file name to write to.
    """
    tmp_path = temporary_name(path)
    try:
        yield tmp_path
        publish(tmp_path, path)
    finally:
        if osp.lexists(tmp_path):
            os.remove(tmp_path)


def write_text_atomic(path: str, text: str) -> None:
    """Writes ``text`` to ``path`` through :func:`atomic_output`."""
    with atomic_output(path) as tmp_path:
        with open(tmp_path, 'w', encoding='utf-8') as f:
            f.write(text)
