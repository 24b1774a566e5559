"""`make data`: download MNIST and CIFAR-10 into the data root (official files and checksums), one line each."""
from __future__ import annotations

import argparse

from .data import DATA_ROOT_ENV, DATASETS, ensure_datasets
from .errors import run_command


def main(argv: list[str] | None = None) -> int:
    """`python -m helpers.download [--root DIR]`: download MNIST and CIFAR-10 (what `make data` runs)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--root", default=None, help=f"data root (default: ${DATA_ROOT_ENV} or ./data)")
    args = parser.parse_args(argv)

    def body():
        for files in ensure_datasets(DATASETS, args.root):
            print(f"{files.name}: ready in {files.root} (fingerprint {files.fingerprint})")
    return run_command(body)


if __name__ == "__main__":
    raise SystemExit(main())
