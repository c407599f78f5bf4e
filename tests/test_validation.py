import pytest
import torch

from transfer_utils.core.validation import check_feature_pair, check_features, check_xy


def test_valid_inputs_pass_and_return():
    check_features(torch.zeros(3, 2), "F")
    check_feature_pair(torch.zeros(3, 2), torch.zeros(5, 2))
    X, y = check_xy(torch.arange(4.0), torch.zeros(4), allow_1d=True)
    assert X.shape == (4, 1) and y.shape == (4,)


@pytest.mark.parametrize("T, err, match", [
    ([[1.0]], TypeError, "torch.Tensor"),
    (torch.zeros(3), ValueError, r"2-D tensor of shape \(n_samples, n_features\)"),
    (torch.zeros(1, 2), ValueError, "at least 2 .*empty batch"),
    (torch.zeros(3, 2, dtype=torch.long), TypeError, "floating-point"),
])
def test_check_features_errors(T, err, match):
    with pytest.raises(err, match=match):
        check_features(T, "F", min_rows=2, need="a covariance")


def test_pair_errors():
    with pytest.raises(ValueError, match="same number of features .*got 2 and 3"):
        check_feature_pair(torch.zeros(3, 2), torch.zeros(3, 3), ("a", "b"))
    with pytest.raises(ValueError, match="b has 0 samples"):
        check_feature_pair(torch.zeros(3, 2), torch.zeros(0, 2), ("a", "b"))


@pytest.mark.parametrize("X, y, match", [
    (torch.zeros(3), torch.zeros(3), r"shape \(n, d\)"),
    (torch.zeros(3, 2), torch.zeros(2), r"y must have shape \(3,\)"),
    (torch.zeros(0, 2), torch.zeros(0), "empty"),
])
def test_check_xy_errors(X, y, match):
    with pytest.raises(ValueError, match=match):
        check_xy(X, y)
    with pytest.raises(TypeError):
        check_xy([1.0], torch.zeros(1))


# --- finiteness, dtypes, labels and scalars ----------------------------------------------------------

import math  # noqa: E402

import numpy as np  # noqa: E402

from transfer_utils.core.validation import (  # noqa: E402
    check_binary_labels,
    check_class_labels,
    check_finite,
    check_int,
    check_interval,
    check_number,
    check_positive,
    check_same_dtype,
    check_shaped,
)


def test_check_finite_counts_what_is_wrong_and_passes_integers():
    check_finite(torch.arange(3), "i")  # integers cannot hold NaN
    check_finite(torch.zeros(2, 2), "F")
    T = torch.tensor([1.0, float("nan"), float("inf"), -float("inf")])
    with pytest.raises(ValueError, match=r"T contains 1 NaN and 2 infinite value\(s\) out of 4; fix it"):
        check_finite(T, "T", advice="fix it")


def test_check_finite_is_exact_where_the_fast_sum_overflows():
    big = torch.full((4,), 3e38)  # finite entries whose float32 sum overflows to inf
    assert not torch.isfinite(big.sum())
    check_finite(big, "big")
    check_finite(torch.tensor([1 + 2j, 3 - 1j]), "z")
    with pytest.raises(ValueError, match="z contains 1 NaN"):
        check_finite(torch.tensor([1 + 2j, complex(float("nan"), 0)]), "z")
    with pytest.raises(ValueError, match="w contains 1 NaN"):
        check_finite(torch.tensor([1.0, float("nan")], requires_grad=True), "w")


def test_check_features_and_xy_refuse_nan_and_mixed_dtypes():
    with pytest.raises(ValueError, match="F contains 1 NaN"):
        check_features(torch.tensor([[0.0, float("nan")]]), "F")
    with pytest.raises(TypeError, match=r"a is torch.float64 but b is torch.float32.*\.to\(torch.float64\)"):
        check_feature_pair(torch.zeros(3, 2, dtype=torch.float64), torch.zeros(3, 2), ("a", "b"))
    with pytest.raises(ValueError, match="y contains 0 NaN and 1 infinite"):
        check_xy(torch.zeros(2, 1), torch.tensor([0.0, float("inf")]))
    with pytest.raises(TypeError, match="floating-point"):
        check_xy(torch.zeros(2, 1, dtype=torch.long), torch.zeros(2), floating=True)
    with pytest.raises(ValueError, match=r"y_t must have shape \(2,\) to match X_t"):
        check_xy(torch.zeros(2, 1), torch.zeros(3), names=("X_t", "y_t"))


def test_check_same_dtype_and_shaped():
    check_same_dtype((torch.zeros(1), torch.ones(2), torch.ones(3)), ("a", "b", "c"))
    with pytest.raises(TypeError, match="a is torch.float32 but c is torch.int64"):
        check_same_dtype((torch.zeros(1), torch.ones(2), torch.ones(3, dtype=torch.long)), ("a", "b", "c"))
    check_shaped(torch.zeros(2, 3), "P", (2, 3))
    check_shaped(None, "P", (2, 3), allow_none=True)
    with pytest.raises(ValueError, match=r"P must have shape \(3, 3\) to match X, got \(2, 3\)"):
        check_shaped(torch.zeros(2, 3), "P", (3, 3), what="X")
    with pytest.raises(ValueError, match="P contains 1 NaN"):
        check_shaped(torch.tensor([float("nan")]), "P", (1,))
    with pytest.raises(TypeError, match="P must be a torch.Tensor"):
        check_shaped(None, "P", (1,))


@pytest.mark.parametrize("y", [torch.tensor([0, 1, 1]), torch.tensor([0.0, 1.0]), torch.tensor([True, False])])
def test_check_binary_labels_accepts_zero_one(y):
    out = check_binary_labels(y)
    assert out.is_floating_point() and torch.equal(out, y.to(out.dtype))


@pytest.mark.parametrize("y, shown", [(torch.tensor([-1.0, 1.0]), r"\[-1.0\]"), (torch.tensor([0, 2]), r"\[2\]"),
                                      (torch.tensor([0.0, float("nan")]), r"\[nan\]"), (torch.tensor([0.5]), r"\[0.5\]")])
def test_check_binary_labels_names_the_bad_values(y, shown):
    with pytest.raises(ValueError, match=r"lab must hold binary labels 0 and 1 .*contains " + shown):
        check_binary_labels(y, "lab")


def test_check_class_labels():
    assert check_class_labels(torch.tensor([0.0, 2.0]), "y", 3).dtype == torch.long
    assert torch.equal(check_class_labels(torch.tensor([2, 0]), "y"), torch.tensor([2, 0]))
    with pytest.raises(ValueError, match=r"class indices .*\[0.5\]"):
        check_class_labels(torch.tensor([0.5, 1.0]), "y")
    with pytest.raises(ValueError, match=r"y: class labels must lie in 0..1 .*from 0 to 2"):
        check_class_labels(torch.tensor([0, 2]), "y", 2)
    with pytest.raises(ValueError, match="from -1 to 0"):
        check_class_labels(torch.tensor([-1, 0]), "y")
    with pytest.raises(ValueError, match="non-empty 1-D"):
        check_class_labels(torch.zeros(0, dtype=torch.long), "y")


def test_scalar_checks():
    assert check_number(np.float32(2.5), "a") == 2.5 and check_number(torch.tensor([3]), "a") == 3.0
    assert check_positive(0.0, "a", allow_zero=True) == 0.0
    t = torch.tensor([0.5, 2.0])
    assert check_positive(t, "t") is t
    assert check_interval(1.0, "p", 0.0, 1.0) == 1.0
    assert check_int(np.int64(3), "n", minimum=3) == 3
    for bad, err, match in [(True, TypeError, "a bool"), ("1", TypeError, "real number"),
                            (math.nan, ValueError, "finite"), (math.inf, ValueError, "finite"),
                            (torch.zeros(2), TypeError, "one real number")]:
        with pytest.raises(err, match=match):
            check_number(bad, "a")
    with pytest.raises(ValueError, match=r"a must be positive \(> 0\), got 0. Say why."):
        check_positive(0.0, "a", advice="Say why.")
    with pytest.raises(ValueError, match=r"a must be >= 0 \(non-negative\), got -1"):
        check_positive(-1, "a", allow_zero=True)
    with pytest.raises(ValueError, match="t must hold finite numbers"):
        check_positive(torch.tensor([1.0, math.nan]), "t")
    with pytest.raises(ValueError, match=r"t must be positive \(> 0\), got -2"):
        check_positive(torch.tensor([1.0, -2.0]), "t")
    with pytest.raises(ValueError, match=r"p must lie in \(0, 1\], got 0"):
        check_interval(0.0, "p", 0.0, 1.0, include_low=False)
    with pytest.raises(ValueError, match=r"p must lie in \[0, 1\), got 1"):
        check_interval(1.0, "p", 0.0, 1.0, include_high=False)
    for bad, err in [(2.0, TypeError), (True, TypeError), (-1, ValueError)]:
        with pytest.raises(err, match="n must be an int"):
            check_int(bad, "n")
