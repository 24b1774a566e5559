"""Accuracy plots: one History per label as before, or several seeds as a mean line with a min..max band."""
import re
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


def _drawn(fig):
    fig.canvas.draw()  # tick labels, legend and their extents as they will be saved
    return fig.axes[0]


def test_an_epoch_axis_has_whole_numbers_only():
    ax = _drawn(plot_accuracy({"A": make_history([0.5, 0.6, 0.7])}, x="epoch"))
    low, high = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if low <= t <= high]
    assert ticks and all(float(t).is_integer() for t in ticks)


def test_the_legend_lies_below_the_axes_and_their_label_never_over_a_curve():
    # Curves that fill the axes from chance to the top: no corner inside the axes is free.
    runs = {"low": make_history([0.1, 0.1, 0.1, 0.1]), "high": make_history([0.2, 0.9, 0.95, 0.97]),
            "middle": make_history([0.9, 0.5, 0.3, 0.2])}
    for x in ("epoch", "time"):
        ax = _drawn(plot_accuracy(runs, x=x))
        legend = ax.get_legend().get_window_extent()
        assert legend.y1 <= ax.get_window_extent().y0 and legend.y1 <= ax.xaxis.label.get_window_extent().y0


def test_a_log_time_axis_is_labelled_with_plain_numbers():
    runs = {"a": make_history([0.5, 0.6, 0.7], train_time=[0.08, 0.08, 0.08]),
            "b": make_history([0.5, 0.6, 0.7], train_time=[0.2, 0.2, 0.2])}
    ax = _drawn(plot_accuracy(runs, x="time", log_x=True))
    labels = [t.get_text() for t in ax.get_xticklabels() + ax.get_xticklabels(minor=True) if t.get_text()]
    assert "0.1" in labels and "0.2" in labels
    assert all(re.fullmatch(r"\d+(\.\d+)?", label) for label in labels), labels  # not "2e-01", not "$2\times10^{-1}$"


def test_one_seed_note_for_all_curves_becomes_the_legend_title():
    fig = plot_accuracy({"SGD": _seeds()[:2], "Adam": [make_history([0.3, 0.5], seed=s) for s in (1, 2)]})
    legend = fig.axes[0].get_legend()
    assert legend.get_title().get_text() == "Mean of 2 seeds, band min–max"
    assert [t.get_text() for t in legend.get_texts()] == ["SGD", "Adam"]


def test_over_training_time_a_seed_timed_while_sharing_is_left_out_where_others_were_not():
    """Another run on the same machine stretches a seed's time: the time axis shows the seeds timed alone."""
    alone = [make_history([0.3, 0.5], train_time=[10, 10], seed=s, sharing=[0, 0]) for s in (1, 2)]
    shared = make_history([0.3, 0.5], train_time=[40, 40], seed=3, sharing=[1, 1])
    fig = plot_accuracy({"CNN": alone + [shared], "MLP": [make_history([0.2, 0.3], sharing=[1, 1])]}, x="time")
    curves = {line.get_label(): line.get_xdata().tolist() for line in fig.axes[0].get_lines()}
    assert curves["CNN: 2 of 3 seeds, those timed alone (mean of 2 seeds, band min–max)"] == [10, 20]  # not 40, 80
    assert curves["MLP"] == [1, 2]  # no seed timed alone: the one there is (the text says its time is not compared)
    over_epochs = plot_accuracy({"CNN": alone + [shared]}, x="epoch")
    assert [line.get_label() for line in over_epochs.axes[0].get_lines()] == ["CNN"]  # epochs: every seed
