"""The datasets for a GPU machine without internet, written the same way on both machines.

A GPU machine of that kind gets the repository and one carried folder (`.carry/`, git-ignored), nothing else. The
carried folder holds compact copies of the datasets and how to write them: a CIFAR-10 maker (a folder whose
`make_cifar10.py DIR` writes the official `cifar-10-batches-py` layout from the files beside it), the four
MNIST-format .gz files (e.g. Debian's dataset-fashion-mnist), and the wheels of what the workers need that such a
machine may lack (submitit, cloudpickle). Both machines write the datasets from these copies, and the GPU machine
compares the sha256 of what it wrote with what was written here: results trained on other bytes would have other
keys (the data's fingerprint is part of a run's key) than the same runs where they are rendered.

    python -m helpers.gpu_session carry --copies DIR [--mnist DIR] [--data-root data/gpu-copies]
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from .data import CIFAR10_FILES, MNIST_FILES
from .errors import UserError
from .files import REPO_ROOT

CARRY = "CIFAR-10 maker: cifar10/make_cifar10.py; MNIST-format files: mnist/; wheels: wheels/"
WHEELS = ("submitit==1.5.4", f"cloudpickle=={importlib.metadata.version('cloudpickle')}")
DEBIAN_MNIST = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist: real MNIST-format files


def dataset_files() -> list[str]:
    """The dataset files a data root holds, relative to it, in a fixed order."""
    return ([f"cifar-10-batches-py/{name}" for name in CIFAR10_FILES] +
            [f"MNIST/raw/{name}" for name in MNIST_FILES])


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def data_sums(root: Path) -> str:
    """The sha256 of the dataset files under root, as `sha256sum` prints them ('' if one is missing)."""
    files = [Path(root) / name for name in dataset_files()]
    if not all(f.is_file() for f in files):
        return ""
    return "".join(f"{sha256(f)}  {name}\n" for f, name in zip(files, dataset_files()))


def data_versions() -> str:
    """What the written bytes depend on besides the copies: the pickles name numpy's module (numpy 1 and 2 differ),
    the pixels come from Pillow's JPEG decoder (libjpeg-turbo)."""
    import numpy
    import PIL
    import PIL.features
    return (f"python {sys.version.split()[0]}, numpy {numpy.__version__}, Pillow {PIL.__version__}, libjpeg-turbo "
            f"{PIL.features.version('libjpeg_turbo')}")


def write_data(carry: Path, root: Path) -> None:
    """Write both datasets into root from the carried copies: CIFAR-10 by the carried maker, MNIST as byte copies."""
    done = subprocess.run([sys.executable, str(carry / "cifar10" / "make_cifar10.py"), str(root)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise UserError(f"the carried make_cifar10.py failed: {(done.stderr or done.stdout).strip()[-500:]}")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in MNIST_FILES:
        shutil.copyfile(carry / "mnist" / name, raw / name)


def compare_data(carry: Path, root: Path) -> tuple[bool, str]:
    """Whether the datasets under root are byte for byte those written where the carry was made, in words."""
    want = (carry / "data.sha256").read_text()
    have = data_sums(root)
    if have == want:
        return True, (f"data: identical to the files written where the carry was made (sha256 of {len(have.splitlines())} "
                      f"files; written here with {data_versions()})")
    wanted = dict(line.split("  ")[::-1] for line in want.splitlines())
    differ = [name for line in have.splitlines() for digest, name in [line.split("  ")] if wanted.get(name) != digest]
    return False, ("data: DIFFERENT from the files written where the carry was made; these differ:\n"
                   + "".join(f"  {name}\n" for name in differ or dataset_files())
                   + f"written here with {data_versions()}; there with "
                   + f"{(carry / 'data.versions').read_text().strip() if (carry / 'data.versions').exists() else '?'}\n"
                   + "Results trained on these files would have other keys than the same runs there.")


def copy_if_changed(source: Path, dest: Path) -> None:
    if not (dest.exists() and dest.read_bytes() == source.read_bytes()):
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)


def make_carry(carry: Path, copies: Path, mnist: Path, data_root: Path, log=print) -> None:
    """Fill the carried folder from the copies, write the datasets here and record their checksums."""
    if not (copies / "make_cifar10.py").is_file():
        raise UserError(f"{copies} holds no make_cifar10.py: --copies names a folder whose make_cifar10.py DIR writes "
                        "CIFAR-10's official layout from the files beside it")
    missing = [name for name in MNIST_FILES if not (mnist / name).is_file()]
    if missing:
        hint = " (as root: apt-get install -y dataset-fashion-mnist)" if mnist == DEBIAN_MNIST else ""
        raise UserError(f"{mnist} lacks {', '.join(missing)}: --mnist names a folder with the four MNIST-format "
                        f".gz files{hint}")
    for source in sorted(p for p in copies.iterdir() if p.is_file()):
        copy_if_changed(source, carry / "cifar10" / source.name)
    for name in MNIST_FILES:
        copy_if_changed(mnist / name, carry / "mnist" / name)
    for pin in WHEELS:
        name, version = pin.split("==")
        if not list((carry / "wheels").glob(f"{name}-{version}-*.whl")):
            done = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", pin, "-d",
                                   str(carry / "wheels")], capture_output=True, text=True)
            if done.returncode != 0:
                raise UserError(f"could not download the wheel {pin} (pip download needs PyPI): {done.stderr.strip()}")
    inputs = "".join(f"{sha256(p)}  {p.relative_to(carry)}\n"
                     for p in sorted((carry / "cifar10").iterdir()) + sorted((carry / "mnist").iterdir()))
    recorded, sums = carry / "inputs.sha256", carry / "data.sha256"
    if recorded.exists() and recorded.read_text() == inputs and sums.exists() and data_sums(data_root) == sums.read_text():
        log(f"{carry} is up to date; {data_root} holds the files its data.sha256 names")
    else:
        write_data(carry, data_root)
        sums.write_text(data_sums(data_root))
        (carry / "data.versions").write_text(data_versions() + "\n")
        recorded.write_text(inputs)
        log(f"wrote {data_root} and {carry / 'data.sha256'} (written with {data_versions()})")
    size = sum(p.stat().st_size for p in carry.rglob("*") if p.is_file())
    log(f"{carry}: {size / 2**20:.1f} MiB to carry. Render here from the GPU's results with DATA_ROOT={data_root} "
        "(make status, make pdf) and the same OVERRIDES.")


def importable_workers(carry: Path) -> None:
    """Make submitit importable here and in the workers: from the carried wheels where the machine lacks it (pure
    Python wheels are zip files: unpacked onto the path, they are installed), and the project from the repository."""
    paths = [str(REPO_ROOT)]
    try:
        import submitit  # noqa: F401
    except ImportError:
        site = Path(os.environ.get("TMPDIR", "/tmp")) / "gpu-session-site"  # not under --out: only the session's files
        wheels = sorted((carry / "wheels").glob("*.whl"))
        if not wheels:
            raise UserError(f"no submitit here, and no wheels in {carry / 'wheels'}: make the carry (make gpu-carry)")
        for wheel in wheels:
            zipfile.ZipFile(wheel).extractall(site)
        sys.path.insert(0, str(site))
        paths.append(str(site))
        print(f"unpacked {', '.join(w.name for w in wheels)} into {site}")
    os.environ["PYTHONPATH"] = os.pathsep.join(paths + [p for p in [os.environ.get("PYTHONPATH")] if p])
