"""Fetching missing data: torchvision's own download from a local mirror (an HTTP server on 127.0.0.1 serving small
archives in the official formats, their md5s in place of the official ones), a corrupted archive, and no network.

(torchvision's downloader cannot read file:// URLs: it asks the response for its length, which only HTTP gives.)
"""
import functools
import hashlib
import http.server
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest
import torchvision

from helpers import data
from helpers.errors import UserError
from helpers.synthetic import write_cifar10, write_mnist

from conftest import REPO

MNIST, CIFAR10 = torchvision.datasets.MNIST, torchvision.datasets.CIFAR10
UNREACHABLE = "http://127.0.0.1:9/"  # the discard port on this machine: nothing listens, the connection is refused


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # not one line per request on stderr
        pass


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """Small MNIST (.gz idx files) and CIFAR-10 (cifar-10-python.tar.gz) archives on a local HTTP server.

    Returns the served folder and its URL; torchvision's classes point there, with these archives' md5s.
    """
    source = tmp_path / "made"
    raw = write_mnist(source, n_train=60, n_test=20)
    batches = write_cifar10(source, n_train=50, n_test=10)
    served = tmp_path / "mirror"
    served.mkdir()
    with tarfile.open(served / CIFAR10.filename, "w:gz") as tar:
        tar.add(batches, arcname=batches.name)
    for gz in raw.glob("*.gz"):
        (served / gz.name).write_bytes(gz.read_bytes())
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    monkeypatch.setattr(MNIST, "mirrors", [url])
    monkeypatch.setattr(MNIST, "resources", [(f, md5(served / f)) for f, _ in MNIST.resources])
    monkeypatch.setattr(CIFAR10, "url", url + CIFAR10.filename)
    monkeypatch.setattr(CIFAR10, "tgz_md5", md5(served / CIFAR10.filename))
    monkeypatch.setattr(CIFAR10, "train_list", [[f, md5(batches / f)] for f, _ in CIFAR10.train_list])
    monkeypatch.setattr(CIFAR10, "test_list", [[f, md5(batches / f)] for f, _ in CIFAR10.test_list])
    monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta, "md5": md5(batches / CIFAR10.meta["filename"])})
    yield served, url
    server.shutdown()
    server.server_close()


def test_missing_datasets_are_fetched_with_one_line_each_and_load(mirror, tmp_path, capsys):
    served, url = mirror
    root = tmp_path / "data"
    mnist, cifar = data.ensure_datasets(["mnist", "cifar10"], root)
    out, err = capsys.readouterr()
    assert err == ""  # no progress bars, no torchvision chatter
    megabytes = {"mnist": sum((served / f).stat().st_size for f, _ in MNIST.resources) / 1e6,
                 "cifar10": (served / CIFAR10.filename).stat().st_size / 1e6}
    assert out.splitlines() == [
        f"mnist: downloading from {url} into {root.resolve()} ... done ({megabytes['mnist']:.1f} MB, md5 ok)",
        f"cifar10: downloading from {url}{CIFAR10.filename} into {root.resolve()} ... done "
        f"({megabytes['cifar10']:.1f} MB, md5 ok)"]
    made = tmp_path / "made"  # the same files as the mirror's: the same fingerprint, so the same result keys
    assert mnist.fingerprint == data.locate("mnist", made, download_missing=False).fingerprint
    assert cifar.fingerprint == data.locate("cifar10", made, download_missing=False).fingerprint
    assert len(data.load_split(mnist, train=True)) == 60 and len(data.load_split(cifar, train=False)) == 10
    data.ensure_datasets(["mnist", "cifar10"], root)
    assert capsys.readouterr().out == ""  # present: nothing fetched again


@pytest.mark.parametrize("name, archive", [("cifar10", CIFAR10.filename), ("mnist", "t10k-labels-idx1-ubyte.gz")])
def test_a_corrupted_archive_is_refused_by_its_md5_and_deleted(mirror, tmp_path, name, archive):
    served = mirror[0] / archive
    damaged = bytearray(served.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF  # one byte flipped; the md5s given to torchvision stay the intact ones
    served.write_bytes(bytes(damaged))
    root = tmp_path / "data"
    with pytest.raises(UserError, match=rf"^{name}: the download from .* failed its md5 check \({archive} is not the "
                                        r"official file.*deleted\. Try again; or: Put .*make data"):
        data.ensure_datasets([name], root)
    left = [p.name for p in root.rglob("*") if p.is_file()]
    assert archive not in left and not (root / "cifar-10-batches-py").exists(), left


def test_without_network_a_missing_dataset_is_todays_clear_message(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(MNIST, "mirrors", [UNREACHABLE])
    monkeypatch.setattr(CIFAR10, "url", UNREACHABLE + CIFAR10.filename)
    root = tmp_path / "data"
    for name, where in (("mnist", "MNIST/raw"), ("cifar10", "cifar-10-batches-py/")):
        with pytest.raises(UserError) as caught:
            data.ensure_datasets([name], root)
        message = str(caught.value)
        assert message.startswith(f"{name}: not found in {root.resolve()}, and the download from {UNREACHABLE}")
        assert "failed (" in message and where in message  # the reason's words are torchvision's (0.14 has fewer)
        assert "run `make data` on a machine with internet access" in message
    assert [p for p in root.rglob("*") if p.is_file()] == []  # nothing half-written is taken for data later
    assert capsys.readouterr().out.count("failed\n") == 2


def test_make_data_without_network_is_one_line_and_no_traceback(tmp_path):
    code = ("import sys, torchvision; d = torchvision.datasets; d.MNIST.mirrors = [sys.argv[1]]; "
            "d.CIFAR10.url = sys.argv[1] + d.CIFAR10.filename; from helpers.download import main; "
            "raise SystemExit(main(['--root', sys.argv[2]]))")
    done = subprocess.run([sys.executable, "-c", code, UNREACHABLE, str(tmp_path)], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert done.stdout == f"mnist: downloading from {UNREACHABLE} into {tmp_path.resolve()} ... failed\n"
    assert done.stderr.startswith("error: mnist: not found in ") and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


def test_status_never_downloads(mirror, tmp_path):
    """locate(..., download_missing=False), what `make status` and the plan use, only says what is missing."""
    with pytest.raises(UserError, match=r"cifar10: not found in .* \(no cifar-10-batches-py/ there\)\..*make data"):
        data.locate("cifar10", tmp_path / "data", download_missing=False)
    assert not (tmp_path / "data").exists()


def test_a_transfer_that_stalls_halfway_leaves_no_half_file_to_be_taken_for_the_data(mirror, tmp_path, monkeypatch):
    """A server that sends half a file and then says nothing: the download times out, the half file is deleted, and
    the next look for the data finds none (not a truncated MNIST with a checksum warning)."""
    from helpers import fetch
    served, _ = mirror
    stalled = "train-images-idx3-ubyte.gz"
    release = threading.Event()

    class Stalling(QuietHandler):
        def do_GET(self):
            if not self.path.endswith(stalled):
                return super().do_GET()
            body = (served / stalled).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            release.wait(30)  # silent until the test is over
    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address):  # the client gave up on the stalled transfer, as it should
            pass
    server = Server(("127.0.0.1", 0), functools.partial(Stalling, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(MNIST, "mirrors", [f"http://127.0.0.1:{server.server_address[1]}/"])
    monkeypatch.setattr(fetch, "NETWORK_TIMEOUT", 1)
    root = tmp_path / "data"
    try:
        with pytest.raises(UserError, match=rf"the partial {stalled} was deleted"):
            data.ensure_datasets(["mnist"], root)
    finally:
        release.set()
        server.shutdown()
        server.server_close()
    assert not (root / "MNIST" / "raw" / stalled).exists()
    with pytest.raises(UserError, match="mnist: .*not found|mnist: incomplete"):
        data.locate("mnist", root, download_missing=False)
