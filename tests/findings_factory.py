"""Hand-made Histories for the findings tests: the one place that knows how a History is built."""
from __future__ import annotations

from itertools import accumulate

from helpers.experiment import History, RunConfig

# The sheet's 3.1 network, input, target and learning rate.
SHEET = dict(W1=[[1, -1, 0.5], [0.5, 1, 1], [1, -1, 0.5], [0.5, -1, 0], [1, -3, 1]], b1=[[1, 2, 3]],
             W2=[[1], [0.5], [-0.5]], b2=[[0]], x=[[1, -1, 0, -2, 2]], y=[[-1.75]], lr=0.1)


def make_history(test_accuracy, *, val_accuracy=None, train_accuracy=None, train_loss=None, test_loss=None,
                 train_time=None, status="completed", device="cpu", pipeline="template", seed=1, lr=0.1,
                 optimizer="SGD", model="mlp", dataset="mnist", epochs=None, parameters=1000, device_name=None,
                 sharing=None, load=None, cores=2, test_images=None):
    """Return a History with the given per-epoch columns (defaults: plausible values of the same length).

    `sharing` and `load` (per epoch) record the conditions the epochs were timed under; without them the
    records have none, as results of older versions."""
    n = len(test_accuracy)
    train_time = list(train_time or [1.0] * n)
    columns = {
        "epoch": list(range(1, n + 1)),
        "train_loss": list(train_loss or [2.0 - 0.1 * i for i in range(n)]),
        "train_accuracy": list(train_accuracy or [min(1.0, a + 0.05) for a in test_accuracy]),
        "test_loss": list(test_loss or [2.0 - 0.05 * i for i in range(n)]),
        "test_accuracy": list(test_accuracy),
        "train_time": train_time, "eval_time": [0.1] * n, "cumulative_train_time": list(accumulate(train_time)),
    }
    if val_accuracy is not None:
        columns["val_accuracy"] = list(val_accuracy)
    if sharing is not None or load is not None:
        columns["conditions"] = [{"sharing": (sharing or [0] * n)[i], "load": (load or [1.0] * n)[i], "cores": cores}
                                 for i in range(n)]
    records = [{name: values[i] for name, values in columns.items()} for i in range(n)]
    config = RunConfig(dataset=dataset, model=model, optimizer=optimizer, lr=lr, epochs=epochs or max(n, 1), seed=seed,
                       device=device, pipeline=pipeline)
    name = device_name or ("Test GPU" if device == "cuda" else "Test CPU, 2 threads")
    return History(config=config, records=records, status=status, parameters=parameters,
                   environment={"device": device, "device_name": name, "cpu_threads": 2},
                   data={"test": test_images} if test_images else {})
