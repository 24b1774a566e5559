"""Where the project's files are, and writing them so that a reader never sees half of one."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def path_from_env(name: str, default: Path) -> Path:
    """The folder an environment variable names (~ expanded), else the default. A relative one is taken from the
    repository's root: every process means the same folder, a notebook's kernel in notebooks/ as well as make."""
    value = os.environ.get(name)
    return REPO_ROOT / Path(value).expanduser() if value else default


def write_atomically(path: Path, write, *, locked: bool = False) -> None:
    """Write a file through a temporary file and a rename, with the mode of an ordinary file (the umask's: a group
    shares results and the hand-in; mkstemp's own is 0600). A caller that holds the file's lock (`locked`) also
    removes the temporary files of this path left by a writer killed before its rename: they are no one's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in path.parent.glob(f".{path.name}-*.tmp") if locked else ():
        leftover.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    os.chmod(tmp, 0o666 & ~current_umask())
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def current_umask() -> int:
    """The process's umask, read without changing it where Linux tells it (setting it to read it would give files
    that another thread creates meanwhile the wrong mode)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask
