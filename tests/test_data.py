"""Finding and reading the official formats: checksums, missing and damaged files named, the data root, real copies."""
import gzip
import pickle
import warnings

import numpy as np
import pytest

from helpers import data
from helpers.errors import UserError
from helpers.profiles import settings

from conftest import REPO


def test_reads_synthetic_mnist_and_cifar(synthetic_root):
    mnist = data.locate("mnist", synthetic_root, download_missing=False)
    train, test = data.load_split(mnist, True), data.load_split(mnist, False)
    assert train.images.shape == (600, 28, 28) and train.images.dtype == np.uint8 and len(test) == 200
    assert set(np.unique(train.labels)) == set(range(10))
    cifar = data.locate("cifar10", synthetic_root, download_missing=False)
    train = data.load_split(cifar, True)
    assert train.images.shape == (500, 32, 32, 3) and train.classes[0] == "airplane"


def test_checksum_mismatch_loads_with_one_warning_naming_the_files(fresh_synthetic_root):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data.locate("cifar10", fresh_synthetic_root, download_missing=False)
        data.locate("cifar10", fresh_synthetic_root, download_missing=False)
    messages = [str(w.message) for w in caught if issubclass(w.category, data.DataChecksumWarning)]
    assert len(messages) == 1 and "data_batch_1" in messages[0] and "test_batch" in messages[0]


def test_missing_data_without_network_is_one_clear_error(tmp_path, monkeypatch):
    with pytest.raises(UserError, match=r"not found.*MNIST/raw.*make data"):
        data.locate("mnist", tmp_path, download_missing=False)

    def offline(*args, **kwargs):
        raise OSError("network unreachable")
    monkeypatch.setattr(data.torchvision.datasets, "CIFAR10", offline)
    with pytest.raises(UserError, match=r"download .* failed .*network unreachable.*cifar-10-batches-py"):
        data.locate("cifar10", tmp_path)


def test_a_data_root_inside_a_datasets_folder_names_the_one_above(fresh_synthetic_root):
    """DATA_ROOT=data/cifar-10-batches-py is the common slip: the message names the root that was meant."""
    for inside in (fresh_synthetic_root / "cifar-10-batches-py", fresh_synthetic_root / "MNIST" / "raw"):
        with pytest.raises(UserError, match=rf"lies in a dataset's own folder.*{fresh_synthetic_root} has cifar10 "
                                            rf"\(DATA_ROOT={fresh_synthetic_root}\)\.$"):
            data.locate("cifar10", inside, download_missing=False)
    empty = fresh_synthetic_root / "empty"
    (empty / "cifar-10-batches-py").mkdir(parents=True)
    with pytest.raises(UserError, match=r"cifar10: not found; \S*/empty/cifar-10-batches-py holds none of its files"):
        data.locate("cifar10", empty, download_missing=False)
    (fresh_synthetic_root / "cifar-10-batches-py" / "test_batch").unlink()
    with pytest.raises(UserError, match=r"cifar10: incomplete; missing \S*/cifar-10-batches-py/test_batch\. Put"):
        data.locate("cifar10", fresh_synthetic_root, download_missing=False)


def test_truncated_idx_file_is_named(fresh_synthetic_root):
    path = fresh_synthetic_root / "MNIST" / "raw" / "train-images-idx3-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-100]))
    files = data.locate("mnist", fresh_synthetic_root, download_missing=False)
    with pytest.raises(UserError, match="train-images-idx3-ubyte.gz: truncated or corrupt"):
        data.load_split(files, train=True)


def test_broken_gzip_is_named(fresh_synthetic_root):
    path = fresh_synthetic_root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:20])
    files = data.locate("mnist", fresh_synthetic_root, download_missing=False)
    with pytest.raises(UserError, match="t10k-labels-idx1-ubyte.gz: cannot be read"):
        data.load_split(files, train=False)


def test_corrupt_cifar_batch_is_named(fresh_synthetic_root):
    path = fresh_synthetic_root / "cifar-10-batches-py" / "data_batch_3"
    path.write_bytes(path.read_bytes()[:1000])
    files = data.locate("cifar10", fresh_synthetic_root, download_missing=False)
    with pytest.raises(UserError, match="data_batch_3: cannot be unpickled"):
        data.load_split(files, train=True)
    with open(path, "wb") as f:
        pickle.dump({"data": np.zeros((3, 10), np.uint8), "labels": [0, 1, 2]}, f)
    with pytest.raises(UserError, match="data_batch_3: not a CIFAR-10 batch"):
        data.load_split(files, train=True)


def _write_idx(path, header: bytes, body: bytes) -> None:
    path.write_bytes(gzip.compress(header + body))


@pytest.mark.parametrize("magic", [b"\x00\x00\x0d\x03", b"\x08\x00\x08\x03", b"\x00\x00\x08"],
                         ids=["float-type", "nonzero-first-bytes", "shorter-than-a-magic-number"])
def test_idx_file_with_a_bad_magic_number_is_named(fresh_synthetic_root, magic):
    path = fresh_synthetic_root / "MNIST" / "raw" / "train-images-idx3-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    _write_idx(path, magic, raw[4:] if len(magic) == 4 else b"")
    files = data.locate("mnist", fresh_synthetic_root, download_missing=False)
    with pytest.raises(UserError, match="train-images-idx3-ubyte.gz: not an idx file .*bad magic number"):
        data.load_split(files, train=True)


def test_images_and_labels_of_different_counts_are_named(fresh_synthetic_root):
    path = fresh_synthetic_root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz"
    labels = gzip.decompress(path.read_bytes())[8:]
    _write_idx(path, bytes([0, 0, 8, 1]) + (len(labels) - 1).to_bytes(4, "big"), labels[:-1])  # one label short
    files = data.locate("mnist", fresh_synthetic_root, download_missing=False)
    with pytest.raises(UserError, match=r"t10k-images-idx3-ubyte.gz: images \(50, 28, 28\) do not match labels \(49,\)"):
        data.load_split(files, train=False)


@pytest.mark.parametrize("meta", [{"num_cases_per_batch": 20, "num_vis": 3072},
                                  {"label_names": ["airplane", "automobile"], "num_vis": 3072}],
                         ids=["no-label-names", "two-label-names"])
def test_cifar_meta_file_without_the_ten_label_names_is_named(fresh_synthetic_root, meta):
    with open(fresh_synthetic_root / "cifar-10-batches-py" / "batches.meta", "wb") as f:
        pickle.dump(meta, f, protocol=2)
    files = data.locate("cifar10", fresh_synthetic_root, download_missing=False)
    with pytest.raises(UserError, match="batches.meta: needs the 10 'label_names' of CIFAR-10"):
        data.load_split(files, train=False)


def test_data_root_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv(data.DATA_ROOT_ENV, str(tmp_path / "env"))
    assert data.resolve_data_root() == tmp_path / "env"
    assert data.resolve_data_root(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv(data.DATA_ROOT_ENV)
    assert data.resolve_data_root().name == "data"
    # a relative one means the same folder in every process: a notebook's kernel runs in notebooks/
    monkeypatch.setenv(data.DATA_ROOT_ENV, "data/copy")
    monkeypatch.chdir(REPO / "notebooks")
    assert data.resolve_data_root() == REPO / "data" / "copy"
    monkeypatch.setenv("EML_RESULTS_ROOT", "elsewhere")
    assert settings("3.2", "full", data_root=tmp_path).results_dir == REPO / "elsewhere" / "full"


def test_real_mnist_format_files_decode_as_torchvision_reads_them(real_mnist_format_root, tmp_path, monkeypatch):
    """Our idx reader against torchvision's own (it reads uncompressed files: we gunzip them for it)."""
    from torchvision.datasets.mnist import read_image_file, read_label_file
    monkeypatch.setattr(data, "_warned_about", set())  # leave the once-per-process warning to its own test
    files = data.locate("mnist", real_mnist_format_root, download_missing=False)
    for train, part in ((True, "train"), (False, "t10k")):
        split = data.load_split(files, train)
        reference = {}
        for kind, read in (("images-idx3", read_image_file), ("labels-idx1", read_label_file)):
            plain = tmp_path / f"{part}-{kind}-ubyte"
            plain.write_bytes(gzip.decompress((real_mnist_format_root / "MNIST" / "raw" / f"{plain.name}.gz").read_bytes()))
            reference[kind] = read(str(plain)).numpy()
        assert split.images.dtype == reference["images-idx3"].dtype == np.uint8
        assert np.array_equal(split.images, reference["images-idx3"])
        assert np.array_equal(split.labels, reference["labels-idx1"]) and split.labels.dtype == np.int64
        assert len(split) == (60000 if train else 10000)


def test_real_cifar10_copy_decodes_as_torchvision_reads_it(real_cifar_root, monkeypatch):
    """Our CIFAR-10 reader against torchvision.datasets.CIFAR10, told to skip its md5 check (the copy's
    data batches are re-encoded, so their checksums are not the official ones)."""
    import torchvision
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(data, "_warned_about", set())  # leave the once-per-process warning to its own test
    files = data.locate("cifar10", real_cifar_root, download_missing=False)
    for train in (True, False):
        split = data.load_split(files, train)
        reference = torchvision.datasets.CIFAR10(str(real_cifar_root), train=train, download=False)
        assert split.images.shape == reference.data.shape == ((50000 if train else 10000), 32, 32, 3)
        assert np.array_equal(split.images, reference.data)
        assert np.array_equal(split.labels, np.asarray(reference.targets, dtype=np.int64))
        assert split.classes == tuple(reference.classes)


def test_real_mnist_format_files_load(real_mnist_format_root):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        files = data.locate("mnist", real_mnist_format_root, download_missing=False)
    assert any(issubclass(w.category, data.DataChecksumWarning) for w in caught)  # Fashion-MNIST is not MNIST
    train = data.load_split(files, True)
    assert train.images.shape == (60000, 28, 28) and np.bincount(train.labels).tolist() == [6000] * 10


def test_real_cifar10_copy_loads_and_only_its_data_batches_differ(real_cifar_root, monkeypatch):
    monkeypatch.setattr(data, "_warned_about", set())  # warned once per process: maybe already, by another test
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        files = data.locate("cifar10", real_cifar_root, download_missing=False)
    [message] = [str(w.message) for w in caught if issubclass(w.category, data.DataChecksumWarning)]
    assert "data_batch_1" in message and "batches.meta" not in message  # the copy's meta file is the official one
    train, test = data.load_split(files, True), data.load_split(files, False)
    assert train.images.shape == (50000, 32, 32, 3) and len(test) == 10000
    assert np.bincount(train.labels).tolist() == [5000] * 10
