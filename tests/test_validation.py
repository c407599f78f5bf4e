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
