"""Exercise 3.1: one gradient-descent step of the sheet's 5-3-1 ReLU network, in exact arithmetic.

Three independent routes to the same gradients:
- `chain_rule`: backpropagation written out as matrix products (sympy rationals);
- `symbolic_gradients`: sympy differentiates the loss as a formula of all 22 parameters;
- `autograd_gradients`: torch autograd in float64.
Row-vector convention, as on the sheet: z = x W1 + b1, a = ReLU(z), f = a W2 + b2.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import sympy as sp
import torch

PARAMETERS = ("W1", "b1", "W2", "b2")


@dataclass(frozen=True)
class Problem:
    """The network's parameters, one input/target pair and the learning rate, as exact matrices."""
    W1: sp.Matrix   # 5 x 3: row i holds the weights from input i to hidden neurons 1..3
    b1: sp.Matrix   # 1 x 3
    W2: sp.Matrix   # 3 x 1
    b2: sp.Matrix   # 1 x 1
    x: sp.Matrix    # 1 x 5
    y: sp.Matrix    # 1 x 1
    lr: sp.Rational


def _exact(rows) -> sp.Matrix:
    # Through str, so that 0.1 becomes exactly 1/10 (not the nearest binary float).
    return sp.Matrix([[sp.Rational(str(v)) for v in row] for row in rows])


def make_problem(W1, b1, W2, b2, x, y, lr) -> Problem:
    """Return a Problem from nested lists of numbers (as written on the sheet), converted exactly."""
    return Problem(W1=_exact(W1), b1=_exact(b1), W2=_exact(W2), b2=_exact(b2), x=_exact(x), y=_exact(y),
                   lr=sp.Rational(str(lr)))


@dataclass(frozen=True)
class Forward:
    """Every intermediate of the forward pass."""
    z: sp.Matrix      # pre-activations of the hidden layer (1 x 3)
    a: sp.Matrix      # ReLU activations (1 x 3)
    f: sp.Matrix      # network output (1 x 1)
    loss: sp.Rational


def relu(m: sp.Matrix) -> sp.Matrix:
    return m.applyfunc(lambda v: sp.Max(0, v))


def forward(p: Problem) -> Forward:
    """Return pre-activations, activations, output and the loss 1/(2n) sum (y - f)^2 (n = 1 sample)."""
    z = p.x * p.W1 + p.b1
    a = relu(z)
    f = a * p.W2 + p.b2
    n = p.x.rows
    loss = sum((p.y - f).applyfunc(lambda e: e ** 2)) / (2 * n)
    return Forward(z, a, f, sp.nsimplify(loss))


@dataclass(frozen=True)
class Backward:
    """Every intermediate of backpropagation, and the parameter gradients."""
    dL_df: sp.Matrix   # 1 x 1
    dL_da: sp.Matrix   # 1 x 3, gradient w.r.t. the hidden activations
    mask: sp.Matrix    # 1 x 3, ReLU'(z): 1 where z > 0, else 0
    dL_dz: sp.Matrix   # 1 x 3
    grads: dict[str, sp.Matrix]


def chain_rule(p: Problem, fw: Forward) -> Backward:
    """Return the gradients by the chain rule, written out as matrix products."""
    n = p.x.rows
    dL_df = (fw.f - p.y) / n
    dL_da = dL_df * p.W2.T
    mask = fw.z.applyfunc(lambda v: 1 if v > 0 else 0)
    dL_dz = dL_da.multiply_elementwise(mask)
    grads = {"W1": p.x.T * dL_dz, "b1": dL_dz, "W2": fw.a.T * dL_df, "b2": dL_df}
    return Backward(dL_df, dL_da, mask, dL_dz, grads)


def symbolic_gradients(p: Problem) -> dict[str, sp.Matrix]:
    """Return the gradients by sympy differentiation of the loss as a formula of every parameter."""
    symbols = {name: sp.Matrix(*getattr(p, name).shape, lambda i, j, name=name: sp.Symbol(f"{name}_{i}{j}"))
               for name in PARAMETERS}
    loss = forward(replace(p, **symbols)).loss
    values = {s: v for name in PARAMETERS for s, v in zip(symbols[name], getattr(p, name))}
    return {name: symbols[name].applyfunc(lambda s: sp.diff(loss, s).subs(values)) for name in PARAMETERS}


def autograd_gradients(p: Problem) -> dict[str, torch.Tensor]:
    """Return the gradients from torch autograd in float64."""
    def tensor(m: sp.Matrix, grad: bool = False) -> torch.Tensor:
        return torch.tensor([[float(v) for v in m.row(i)] for i in range(m.rows)], dtype=torch.float64,
                            requires_grad=grad)
    params = {name: tensor(getattr(p, name), grad=True) for name in PARAMETERS}
    x, y = tensor(p.x), tensor(p.y)
    f = torch.relu(x @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]
    loss = ((y - f) ** 2).sum() / (2 * x.shape[0])
    loss.backward()
    return {name: t.grad for name, t in params.items()}


def gradients_agree(exact: dict[str, sp.Matrix], other: dict, tolerance: float = 0.0) -> bool:
    """True if every gradient in `other` (sympy or torch) equals the exact one (within tolerance)."""
    for name in PARAMETERS:
        mine = exact[name]
        theirs = other[name]
        values = list(theirs) if isinstance(theirs, sp.Matrix) else theirs.flatten().tolist()
        if tuple(theirs.shape) != tuple(mine.shape):
            return False
        for a, b in zip(mine, values):
            if (a != b) if tolerance == 0 else abs(float(a) - float(b)) > tolerance:
                return False
    return True


def sgd_step(p: Problem, grads: dict[str, sp.Matrix], lr=None) -> Problem:
    """Return the problem with every parameter moved by -lr * gradient (lr: the problem's, or exact from str)."""
    lr = p.lr if lr is None else sp.Rational(str(lr))
    return replace(p, **{name: getattr(p, name) - lr * grads[name] for name in PARAMETERS})


def squared_gradient_norm(grads: dict[str, sp.Matrix]) -> sp.Rational:
    """Return the sum of all squared gradient entries (the first-order loss change per unit lr)."""
    return sum(v ** 2 for name in PARAMETERS for v in grads[name])


# ---------------------------------------------------------------------------------------------
# Presentation: exact values as decimals, matrices as LaTeX
# ---------------------------------------------------------------------------------------------

def exact_decimal(value) -> str:
    """Return an exact rational as a terminating decimal when it is one (every value of 3.1 is)."""
    r = sp.Rational(value)
    q = int(r.q)
    for prime in (2, 5):
        while q % prime == 0:
            q //= prime
    if q != 1:
        return sp.latex(r)
    digits = 0
    while (r * 10 ** digits).q != 1:
        digits += 1
    text = f"{sp.Abs(r) * 10 ** digits}".rjust(digits + 1, "0")
    whole, frac = (text[:-digits], text[-digits:]) if digits else (text, "")
    return ("-" if r < 0 else "") + whole + ("." + frac if frac else "")


def matrix_latex(m: sp.Matrix) -> str:
    """Return a matrix as a LaTeX bmatrix of exact decimals."""
    rows = [" & ".join(exact_decimal(v) for v in m.row(i)) for i in range(m.rows)]
    return r"\begin{bmatrix}" + r" \\ ".join(rows) + r"\end{bmatrix}"


def equations_latex(items: list[tuple[str, sp.Matrix]]) -> str:
    """Return `name = matrix` lines aligned in one display, for IPython.display.Math."""
    return r"\begin{aligned}" + r" \\[4pt] ".join(f"{name} &= {matrix_latex(m)}" for name, m in items) \
        + r"\end{aligned}"
