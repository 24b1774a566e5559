"""3.1: the exact values, checked against an independent float64 computation (central differences)."""
import numpy as np
import pytest
import sympy as sp

from helpers.gradients import (PARAMETERS, autograd_gradients, chain_rule, exact_decimal, forward, gradients_agree,
                               make_problem, sgd_step, symbolic_gradients)

SHEET = dict(W1=[[1, -1, 0.5], [0.5, 1, 1], [1, -1, 0.5], [0.5, -1, 0], [1, -3, 1]], b1=[[1, 2, 3]],
             W2=[[1], [0.5], [-0.5]], b2=[[0]], x=[[1, -1, 0, -2, 2]], y=[[-1.75]], lr=0.1)


def numpy_loss(params: dict[str, np.ndarray]) -> float:
    x, y = np.array(SHEET["x"], float), np.array(SHEET["y"], float)
    hidden = np.maximum(0.0, x @ params["W1"] + params["b1"])
    return float(((y - (hidden @ params["W2"] + params["b2"])) ** 2).sum() / 2)


def finite_difference_gradients(h: float = 1e-6) -> dict[str, np.ndarray]:
    params = {name: np.array(SHEET[name], dtype=float) for name in PARAMETERS}
    grads = {}
    for name, value in params.items():
        grad = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            plus, minus = {k: v.copy() for k, v in params.items()}, {k: v.copy() for k, v in params.items()}
            plus[name][index] += h
            minus[name][index] -= h
            grad[index] = (numpy_loss(plus) - numpy_loss(minus)) / (2 * h)
        grads[name] = grad
    return grads


@pytest.fixture(scope="module")
def problem():
    return make_problem(**SHEET)


def test_forward_matches_numpy(problem):
    fw = forward(problem)
    params = {name: np.array(SHEET[name], dtype=float) for name in PARAMETERS}
    assert float(fw.loss) == pytest.approx(numpy_loss(params), abs=1e-12)
    z = np.array(SHEET["x"], float) @ params["W1"] + params["b1"]
    assert [float(v) for v in fw.z] == pytest.approx(z.ravel().tolist())


def test_chain_rule_matches_finite_differences(problem):
    grads = chain_rule(problem, forward(problem)).grads
    reference = finite_difference_gradients()
    for name in PARAMETERS:
        np.testing.assert_allclose(np.array(grads[name], dtype=float), reference[name], atol=1e-6, err_msg=name)


def test_three_routes_agree_and_disagreement_is_detected(problem):
    grads = chain_rule(problem, forward(problem)).grads
    assert gradients_agree(grads, symbolic_gradients(problem))
    assert gradients_agree(grads, autograd_gradients(problem), tolerance=1e-12)
    tampered = dict(grads, b2=grads["b2"] + sp.Matrix([[sp.Rational(1, 10**9)]]))
    assert not gradients_agree(grads, tampered)


def test_update_is_parameter_minus_lr_times_gradient(problem):
    grads = finite_difference_gradients()
    updated = sgd_step(problem, chain_rule(problem, forward(problem)).grads)
    for name in PARAMETERS:
        expected = np.array(SHEET[name], float) - 0.1 * grads[name]
        np.testing.assert_allclose(np.array(getattr(updated, name), dtype=float), expected, atol=1e-6)


def test_values_are_exact_rationals(problem):
    assert problem.lr == sp.Rational(1, 10)  # not the binary float nearest 0.1
    assert all(isinstance(v, sp.Rational) for v in forward(sgd_step(problem, chain_rule(problem, forward(problem)).grads)).z)


@pytest.mark.parametrize("value, text", [(sp.Rational(-789, 100), "-7.89"), (sp.Rational(3, 10), "0.3"), (0, "0"),
                                         (sp.Rational(-1, 20), "-0.05"), (sp.Rational(1, 3), r"\frac{1}{3}")])
def test_exact_decimal(value, text):
    assert exact_decimal(value) == text
