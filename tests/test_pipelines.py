"""From read images to batches (helpers.pipelines): the two pipelines give the same tensors, every item once per epoch
in a seeded order drawn on the CPU, balanced subsets and validation splits; the template's loader leaves SLURM's
signals to the trainer."""

import numpy as np
import pytest
import torch

from helpers import data, pipelines
from helpers.errors import UserError


@pytest.mark.parametrize("dataset", ["mnist", "cifar10"])
def test_resident_tensor_equals_template_items_exactly(synthetic_root, dataset):
    split = data.load_split(data.locate(dataset, synthetic_root, download_missing=False), train=False)
    bulk = pipelines.to_tensor(split)
    items = pipelines.ImageSetDataset(split, pipelines.template_transform(dataset))
    for i in (0, 7, len(split) - 1):
        image, label = items[i]
        assert torch.equal(bulk[i], image), f"item {i} differs"
        assert label == split.labels[i]
    if dataset == "cifar10":
        assert bulk.min() >= 0 and bulk.max() <= 1  # ToTensor only, no normalisation


def test_pipelines_yield_every_item_once_per_epoch_in_a_seeded_order(synthetic_root):
    split = data.load_split(data.locate("mnist", synthetic_root, download_missing=False), train=True)
    orders = []
    for pipeline in pipelines.PIPELINES:
        batches = pipelines.make_batches(split, pipeline, 64, torch.device("cpu"), seed=3, train=True)
        labels = [torch.cat([y for _, y in batches]) for _ in range(2)]
        assert len(batches) == -(-len(split) // 64)
        for epoch_labels in labels:
            assert sorted(epoch_labels.tolist()) == sorted(split.labels.tolist())
        assert not torch.equal(labels[0], labels[1])  # reshuffled every epoch
        again = pipelines.make_batches(split, pipeline, 64, torch.device("cpu"), seed=3, train=True)
        assert torch.equal(torch.cat([y for _, y in again]), labels[0])  # same seed, same order
        other = pipelines.make_batches(split, pipeline, 64, torch.device("cpu"), seed=4, train=True)
        assert not torch.equal(torch.cat([y for _, y in other]), labels[0])  # another seed, another order
        orders.append(labels[0])
    stored = torch.from_numpy(split.labels)
    assert not any(torch.equal(order, stored) for order in orders)  # each pipeline shuffles the first epoch too


def test_balanced_subset_and_validation_split(synthetic_root):
    files = data.locate("cifar10", synthetic_root, download_missing=False)
    train, test = data.load_split(files, True), data.load_split(files, False)
    splits = pipelines.make_splits(train, test, val_size=100, train_subset=200, test_subset=50, seed=1)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (200, 100, 50)
    assert np.bincount(splits.val.labels, minlength=10).tolist() == [10] * 10
    assert np.bincount(splits.train.labels, minlength=10).tolist() == [20] * 10
    # The validation images are held out: none of them is in the training split.
    val_rows = {row.tobytes() for row in splits.val.images}
    assert not any(row.tobytes() in val_rows for row in splits.train.images)
    again = pipelines.make_splits(train, test, val_size=100, train_subset=200, test_subset=50, seed=1)
    assert np.array_equal(again.val.labels, splits.val.labels) and np.array_equal(again.train.images, splits.train.images)
    with pytest.raises(UserError, match="subset size"):
        pipelines.make_splits(train, test, train_subset=10_000)


def test_a_cuda_runs_loader_process_leaves_slurms_signals_to_the_trainer(synthetic_root, monkeypatch):
    # SLURM's time-limit warning reaches every process of the step: the forked loader must not run the
    # worker's requeue handler, and SIGTERM must simply end it.
    import signal
    split = data.load_split(data.locate("mnist", synthetic_root, download_missing=False), train=False).take(np.arange(4))
    seen = lambda image: torch.tensor([float(signal.getsignal(signal.SIGUSR2) == signal.SIG_IGN),  # noqa: E731
                                       float(signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)])
    monkeypatch.setattr(pipelines, "template_transform", lambda dataset: seen)
    previous = signal.signal(signal.SIGUSR2, lambda *_: None)
    try:
        loader = pipelines.template_loader(split, 4, seed=1, train=False, for_cuda=True)
        assert loader.num_workers == 1  # the template's loader process on CUDA (no pinning without CUDA here)
        images, _ = next(iter(loader))
    finally:
        signal.signal(signal.SIGUSR2, previous)
    assert images.tolist() == [[1.0, 1.0]] * 4


def test_the_resident_order_is_drawn_on_the_cpu_for_every_device():
    # CPU and GPU runs of one seed must see the same batches: the order never comes from a device's own generator.
    images, labels = torch.arange(10.0).view(-1, 1), torch.arange(10)
    batches = pipelines.ResidentBatches(images, labels, 4, shuffle=True, seed=5)
    assert batches.generator.device.type == "cpu"
    order = torch.cat([y for _, y in batches])
    assert torch.equal(order, torch.randperm(10, generator=torch.Generator().manual_seed(5)))
