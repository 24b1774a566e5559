"""Downloading MNIST and CIFAR-10 with torchvision: its official URLs and md5s, one line of progress, one clear error.

Where the files go and how they are checked and read is helpers/data.py's; `make data` is helpers/download.py.
"""
from __future__ import annotations

import contextlib
import io
import socket
from pathlib import Path

import torchvision
from torchvision.datasets.utils import check_integrity

from .errors import UserError

NETWORK_TIMEOUT = 60  # seconds without an answer before a download gives up (a node without internet may stay silent)


def sources(name: str) -> tuple[type, list[str], list[tuple[Path, str]]]:
    """Return torchvision's class of a dataset, its download URLs, and its archives (path under the root, md5)."""
    if name == "mnist":
        cls = torchvision.datasets.MNIST
        # getattr: tests may stand a plain function in for the class
        return cls, list(getattr(cls, "mirrors", [])), [(Path("MNIST", "raw", f), md5)
                                                        for f, md5 in getattr(cls, "resources", [])]
    cls = torchvision.datasets.CIFAR10
    return cls, [getattr(cls, "url", "")], [(Path(getattr(cls, "filename", "")), getattr(cls, "tgz_md5", ""))]


@contextlib.contextmanager
def _quiet_network(seconds: float):
    """Hold back torchvision's progress bars and messages, and let a silent network time out."""
    before = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        socket.setdefaulttimeout(before)


def fetch(name: str, root: Path, hint: str) -> None:
    """Download a dataset into root with torchvision, printing one line; a failure is one UserError ending in hint.

    An archive that fails torchvision's md5 check is deleted (never taken for the dataset), and so is a
    partial file that a broken transfer left behind.
    """
    cls, urls, archives = sources(name)
    where = " or ".join(urls)
    before = {a: (root / a).stat().st_mtime_ns for a, _ in archives if (root / a).is_file()}
    print(f"{name}: downloading from {where} into {root} ...", end=" ", flush=True)
    try:
        with _quiet_network(NETWORK_TIMEOUT):
            cls(str(root), train=True, download=True)
    except Exception as err:  # any network or archive failure: one clear message
        print("failed", flush=True)
        broken = [root / a for a, md5 in archives if (root / a).is_file()
                  and before.get(a) != (root / a).stat().st_mtime_ns and not check_integrity(str(root / a), md5)]
        for path in broken:
            path.unlink()
        if broken and "corrupted" in str(err):  # torchvision's words for a finished transfer with the wrong md5
            raise UserError(f"{name}: the download from {where} failed its md5 check ({', '.join(p.name for p in broken)} "
                            "is not the official file: a broken transfer, or a mirror serving another file), and was "
                            f"deleted. Try again; or: {hint}") from None
        reason = " ".join(f"{type(err).__name__}: {err}".split())[:300]
        partial = f"; the partial {', '.join(p.name for p in broken)} was deleted" if broken else ""
        raise UserError(f"{name}: not found in {root}, and the download from {where} failed ({reason}{partial}). "
                        f"{hint}") from None
    size = sum((root / a).stat().st_size for a, _ in archives if (root / a).is_file())
    print(f"done ({size / 1e6:.1f} MB, md5 ok)", flush=True)
