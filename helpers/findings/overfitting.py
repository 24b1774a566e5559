"""Overfitting as data: whether a run's test loss rose from its lowest while its training loss fell, and what its test
accuracy did meanwhile."""
from __future__ import annotations

from dataclasses import dataclass

from .runs import OVERFIT_RISE, as_printed, column, is_diverged


@dataclass(frozen=True)
class Overfitting:
    """Whether a run's test loss rose while its training loss fell, and from which epoch.

    Read over the epochs whose two losses are both finite (a diverged run's last loss is None);
    `epochs_considered` says how many that was, 0 if none. A diverged run is never judged overfitting:
    its losses rose because its training became unstable.
    """
    epochs_considered: int
    lowest_test_loss_epoch: int | None
    lowest_test_loss: float | None
    final_test_loss: float | None
    train_loss_at_lowest: float | None
    final_train_loss: float | None
    test_loss_rose: bool            # ended more than OVERFIT_RISE above its lowest
    train_loss_fell: bool
    diverged: bool = False
    accuracy_at_lowest: float | None = None  # test accuracy in the epoch of the lowest test loss
    final_accuracy: float | None = None      # test accuracy after the last epoch considered

    @property
    def accuracy_change(self) -> float | None:
        """Test accuracy at the end minus at the lowest test loss: the loss counts confident mistakes, the accuracy
        only the top class, so a rising test loss need not cost accuracy (None without both)."""
        if self.accuracy_at_lowest is None or self.final_accuracy is None:
            return None
        return self.final_accuracy - self.accuracy_at_lowest

    @property
    def printed_accuracy_change(self) -> float | None:
        """accuracy_change as the report prints the two accuracies (points of a percent): a rise is never 0.0."""
        if self.accuracy_change is None:
            return None
        return round(as_printed(self.final_accuracy) - as_printed(self.accuracy_at_lowest), 1)

    @property
    def overfitting(self) -> bool:
        """The signature: test loss up since its lowest epoch while the training loss went down (never diverged)."""
        return self.test_loss_rose and self.train_loss_fell and not self.diverged

    @property
    def rise(self) -> float | None:
        """The final test loss relative to the lowest, minus 1 (0.25: a quarter above it); None without losses."""
        if self.lowest_test_loss is None or self.final_test_loss is None or self.lowest_test_loss <= 0:
            return None
        return self.final_test_loss / self.lowest_test_loss - 1

    @property
    def judged(self) -> bool:
        """True if the losses can say whether the run overfitted: two finite epochs or more, not diverged."""
        return self.epochs_considered >= 2 and not self.diverged


def overfitting(history) -> Overfitting:
    """Return whether the run's test loss rose after its lowest epoch while its training loss fell."""
    test, train = column(history, "test_loss") or [], column(history, "train_loss") or []
    accuracy = column(history, "test_accuracy") or []
    finite = 0
    for a, b in zip(test, train):  # the finite prefix: everything after a non-finite loss is unusable
        if a is None or b is None:
            break
        finite += 1
    diverged = is_diverged(history)
    if finite == 0:
        return Overfitting(0, None, None, None, None, None, False, False, diverged)
    test, train = test[:finite], train[:finite]
    lowest = min(range(finite), key=test.__getitem__)  # the first of equal lows
    return Overfitting(
        epochs_considered=finite, lowest_test_loss_epoch=lowest + 1, lowest_test_loss=test[lowest],
        final_test_loss=test[-1], train_loss_at_lowest=train[lowest], final_train_loss=train[-1],
        test_loss_rose=test[-1] > test[lowest] * (1 + OVERFIT_RISE), train_loss_fell=train[-1] < train[lowest],
        diverged=diverged, accuracy_at_lowest=accuracy[lowest] if len(accuracy) >= finite else None,
        final_accuracy=accuracy[finite - 1] if len(accuracy) >= finite else None)
