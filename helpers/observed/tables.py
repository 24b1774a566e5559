"""Markdown tables of findings: runs, candidate rates, the optimizer sweep, arms over seeds, 3.1's rates."""
from __future__ import annotations

from ..findings import LearningRateChoice, OptimizerSweep, RateOutcome, RunSummary, StepEffect
from ..findings.selection import SELECTION_EPOCHS
from ..formatting import join_words, markdown_table, pct, rate, secs
from .runs import device_word


def runs_table(runs: list[RunSummary], digits: int = 2) -> str:
    """Return a table of runs: device as recorded, pipeline (", graphed" where its steps replayed a CUDA graph), epoch
    times, totals, final test accuracy."""
    rows = [[f"{device_word(s.device)} ({s.device_name})", s.pipeline + (f", {s.steps}" if "graphed" in s.steps else ""),
             secs(s.first_epoch_time),
             secs(s.median_epoch_time) + _shared_mark(s), secs(s.total_train_time), secs(s.total_eval_time),
             pct(s.final_accuracy, digits) + (" (diverged)" if s.diverged else "")] for s in runs]
    return markdown_table(["device", "pipeline", "epoch 1", "epoch (median)", "training total", "evaluation total",
                           "final test acc."], rows)


def _shared_mark(s: RunSummary) -> str:
    """A time's mark where other runs shared the machine: every epoch, or some (the time is the others')."""
    return {"shared": " (shared)", "partly shared": f" ({s.epochs_alone} alone)"}.get(s.timing, "")


def _arm_epoch(a) -> str:
    """An arm's epoch time: mean over the seeds timed alone, "shared" where none was."""
    if not a.n:
        return "–"
    if a.median_epoch_time is None:
        return "shared"
    return secs(a.median_epoch_time) + (f" ({a.n - a.shared_runs} of {a.n} seeds)" if a.shared_runs else "")


def _cell(o: RateOutcome, chosen: bool) -> str:
    text = {"scored": lambda: pct(o.score), "diverged": lambda: "–", "missing": lambda: "no run",
            "no validation": lambda: "no val. split"}[o.state]()
    state = "diverged" if o.state == "diverged" else "at chance" if o.at_chance else ""
    return text + (f" ({state})" if state else "") + (" **chosen**" if chosen else "")


def score_span(outcomes) -> str:
    """Return the epochs a selection score averages, in words: "last 3 epochs" (the most any scored run had)."""
    k = max((o.score_epochs for o in outcomes if o.state == "scored"), default=SELECTION_EPOCHS)
    return "last epoch" if k == 1 else f"last {k} epochs"


def rate_table(c: LearningRateChoice, model: str = "CNN") -> str:
    """Return a table of candidate rates: state, score (mean val. accuracy of the last epochs), the chosen one marked."""
    rows = [[rate(o.lr), _cell(o, o.lr == c.chosen), o.epochs_run] for o in c.outcomes]
    return markdown_table([f"{model} learning rate", f"val. acc. (mean, {score_span(c.outcomes)})", "epochs run"], rows)


def sweep_table(s: OptimizerSweep) -> str:
    """Return a table optimizer x learning rate of scores, with diverged, at-chance and chosen runs marked."""
    lrs = list(dict.fromkeys(o.lr for _, c in s.choices for o in c.outcomes))
    rows = [[opt] + [_cell(o, o.lr == c.chosen) if (o := c.outcome(lr)) else "not run" for lr in lrs]
            for opt, c in s.choices]
    return markdown_table(["optimizer"] + [f"lr {rate(lr)}" for lr in lrs], rows)


def sweep_grid(s: OptimizerSweep) -> dict:
    """Return plot_heatmap's values, rows, columns and empty-cell texts for the sweep: `plot_heatmap(**sweep_grid(s))`."""
    lrs = list(dict.fromkeys(o.lr for _, c in s.choices for o in c.outcomes))
    cells = [[c.outcome(lr) for lr in lrs] for _, c in s.choices]
    return {"values": [[o.score if o else None for o in row] for row in cells],
            "rows": [opt for opt, _ in s.choices], "columns": [rate(lr) for lr in lrs],
            "empty": [["not run" if o is None else {"scored": "", "missing": "no run"}.get(o.state, o.state)
                       for o in row] for row in cells]}


def arms_table(arms) -> str:
    """Return a table of arms: seeds, mean final test accuracy, range, first epoch, train - test gap, diverged seeds."""
    rows = [[a.label, a.n, pct(a.mean) if a.n else "–", f"{pct(a.low)} to {pct(a.high)}" if a.n > 1 else "–",
             pct(a.first_epoch_mean) if a.n else "–",
             f"{100 * a.gap_mean:+.1f} pp" if a.gap_mean is not None else "–",
             _arm_epoch(a), join_words(a.diverged_seeds) or "–"] for a in arms]
    return markdown_table(["run", "seeds", "final test acc. (mean)", "range over seeds", "after epoch 1 (mean)",
                           "train - test (final)", "epoch (median)", "diverged seeds"], rows)


def step_rates_table(e: StepEffect) -> str:
    """Return 3.1's table: loss after one step at each learning rate, and the change."""
    return markdown_table(["learning rate", "loss after one step", "change"],
                          [[r, f"{float(v):.4f}", f"{float(v - e.loss_before):+.4f}"] for r, v in e.rate_losses])
