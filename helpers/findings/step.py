"""Finding of 3.1: what one exact gradient step did to the sheet's network, and at which rate it does best."""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..gradients import chain_rule, forward, sgd_step, squared_gradient_norm

SHEET_RATES = ("0.001", "0.003", "0.01", "0.03", "0.1")


@dataclass(frozen=True)
class StepEffect:
    """One gradient step in exact arithmetic: the loss before and after, and why (all sympy values exact)."""
    lr: sp.Rational
    target: sp.Rational
    output_before: sp.Rational
    output_after: sp.Rational
    loss_before: sp.Rational
    loss_after: sp.Rational
    change: str                         # "rose", "fell" or "unchanged"
    squared_gradient_norm: sp.Rational
    first_order_decrease: sp.Rational   # lr * ||g||^2: the decrease a linear model of the loss predicts
    predicted_beyond_loss: bool         # the prediction exceeds the whole loss: the step is too long
    crossed_target: bool                # the output ended on the other side of the target
    dead_neurons: tuple[int, ...]       # hidden neurons (1-based) with pre-activation <= 0: ReLU passes no gradient
    dead_all_negative: bool             # every dead neuron's pre-activation is < 0 (not merely 0)
    dead_unchanged: bool                # their W1 columns, biases and W2 weights indeed got zero gradient
    zero_inputs: tuple[int, ...]        # inputs (1-based) equal to 0
    zero_input_rows_unchanged: bool     # their W1 rows indeed got zero gradient
    rate_losses: tuple[tuple[str, sp.Rational], ...]  # (rate as written, loss after one step at it)
    best_rate: str | None               # the rate with the lowest loss after one step (ties: the smaller rate)
    lowering_rates: tuple[str, ...]     # the rates that lower the loss


def _sign(value) -> int:
    return int(bool(value > 0)) - int(bool(value < 0))


def step_effect(problem, rates=SHEET_RATES) -> StepEffect:
    """Return what one step at the problem's rate did, and the loss after one step at each of `rates`."""
    before = forward(problem)
    grads = chain_rule(problem, before).grads
    after = forward(sgd_step(problem, grads))
    norm2 = sp.nsimplify(squared_gradient_norm(grads))
    first_order = problem.lr * norm2
    z = before.z
    dead = tuple(j + 1 for j in range(z.cols) if z[j] <= 0)
    zero_inputs = tuple(i + 1 for i in range(problem.x.cols) if problem.x[i] == 0)
    # Checked on the gradients themselves, so that the text's "unchanged" is a fact, not a theory.
    dead_unchanged = all(grads["b1"][j - 1] == 0 and grads["W2"][j - 1] == 0
                         and all(v == 0 for v in grads["W1"].col(j - 1)) for j in dead)
    rows_unchanged = all(all(v == 0 for v in grads["W1"].row(i - 1)) for i in zero_inputs)
    losses = tuple((str(r), forward(sgd_step(problem, grads, lr=r)).loss) for r in rates)
    # Lowest loss; among equal losses the smaller rate, the one further from overshooting.
    best = min(losses, key=lambda item: (item[1], sp.Rational(item[0])))[0] if losses else None
    change = "rose" if after.loss > before.loss else "fell" if after.loss < before.loss else "unchanged"
    return StepEffect(
        lr=problem.lr, target=problem.y[0], output_before=before.f[0], output_after=after.f[0],
        loss_before=before.loss, loss_after=after.loss, change=change, squared_gradient_norm=norm2,
        first_order_decrease=first_order, predicted_beyond_loss=bool(first_order > before.loss),
        crossed_target=_sign(before.f[0] - problem.y[0]) * _sign(after.f[0] - problem.y[0]) < 0,
        dead_neurons=dead, dead_all_negative=all(bool(z[j - 1] < 0) for j in dead), dead_unchanged=dead_unchanged,
        zero_inputs=zero_inputs, zero_input_rows_unchanged=rows_unchanged, rate_losses=losses, best_rate=best,
        lowering_rates=tuple(r for r, loss in losses if loss < before.loss))
