"""Accuracy plots: one History per label as before, or several seeds as a mean line with a min..max band."""
import statistics

import pytest

from findings_factory import make_history
from helpers.plots import plot_accuracy, seed_band


def _seeds():
    return [make_history([0.5, 0.6, 0.7], seed=1, train_time=[1.0, 1.0, 1.0]),
            make_history([0.4, 0.8, 0.75], seed=2, train_time=[3.0, 3.0, 3.0]),
            make_history([0.45, 0.1], seed=3, status="diverged", train_time=[2.0, 2.0])]


def test_seed_band_is_mean_min_max_cut_to_the_shortest_run():
    band = seed_band(_seeds())
    assert band.seeds == 3 and band.epochs == 2 and band.cut and band.xs == (1.0, 2.0)
    assert band.mean == pytest.approx((statistics.mean([0.5, 0.4, 0.45]), statistics.mean([0.6, 0.8, 0.1])))
    assert band.low == (0.4, 0.1) and band.high == (0.5, 0.8)
    timed = seed_band(_seeds()[:2], x="time")
    assert timed.xs == pytest.approx((2.0, 4.0, 6.0)) and not timed.cut  # mean cumulative time of the seeds


def test_seed_band_of_one_history_and_of_none():
    one = seed_band(make_history([0.5, 0.6]))
    assert one.seeds == 1 and one.mean == one.low == one.high == (0.5, 0.6)
    assert seed_band(None) is None and seed_band([None]) is None and seed_band([]) is None


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".svg", b"<?xml"), (".pdf", b"%PDF")])
def test_plot_accuracy_old_and_seeded_calls_save_by_suffix(tmp_path, suffix, magic):
    path = tmp_path / f"figure{suffix}"
    fig = plot_accuracy({"CPU": make_history([0.5, 0.6]), "Adam": _seeds(), "missing": [], "absent": None},
                        x="time", title="t", path=path)
    assert path.read_bytes().startswith(magic)
    labels = [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    assert labels == ["CPU", "Adam (mean of 3 seeds, band min–max; to epoch 2: a shorter run)"]
    assert len(fig.axes[0].collections) == 1  # one shaded band, for the seeded label only


def test_heatmap_writes_the_reason_of_an_empty_cell(tmp_path):
    from helpers.plots import plot_heatmap
    fig = plot_heatmap([[0.5, None], [None, 0.7]], ["SGD", "Adam"], ["0.1", "0.01"], empty=[["", "not run"], ["diverged", ""]],
                       path=tmp_path / "sweep.pdf")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["50.0", "not run", "diverged", "70.0"] and (tmp_path / "sweep.pdf").read_bytes().startswith(b"%PDF")
    assert [t.get_text() for t in plot_heatmap([[None]], ["SGD"], ["0.1"]).axes[0].texts] == ["diverged"]  # old call
