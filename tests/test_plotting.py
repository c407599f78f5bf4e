import matplotlib

matplotlib.use("Agg")  # tests only; the package never picks a backend
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from transfer_utils.core.plotting import plot_curves, plot_history, to_numpy, use_course_style


def test_to_numpy_from_tensor_with_grad():
    x = torch.tensor([1.0, 2.0], requires_grad=True) * 2
    np.testing.assert_array_equal(to_numpy(x), np.array([2.0, 4.0]))
    np.testing.assert_array_equal(to_numpy([1, 2]), np.array([1, 2]))


def test_plot_curves_uses_given_axes_and_data():
    fig, ax = plt.subplots()
    out = plot_curves({"a": torch.tensor([3.0, 2.0, 1.0])}, x=[10, 20, 30], ax=ax, xlabel="step", logy=True)
    assert out is ax
    line = ax.get_lines()[0]
    np.testing.assert_array_equal(line.get_xdata(), [10, 20, 30])
    np.testing.assert_array_equal(line.get_ydata(), [3.0, 2.0, 1.0])
    assert ax.get_xlabel() == "step" and ax.get_yscale() == "log"
    plt.close(fig)


def test_plot_curves_bad_input():
    with pytest.raises(ValueError, match="at least one"):
        plot_curves({})
    with pytest.raises(ValueError, match="has 3 points but x has 2"):
        plot_curves({"a": [1, 2, 3]}, x=[1, 2])
    plt.close("all")


def test_plot_history():
    use_course_style()
    hist = {"epoch": [1, 2], "train_loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "train_acc": [0.5, 0.8]}
    ax = plot_history(hist)
    assert [l.get_label() for l in ax.get_lines()] == ["train_loss", "val_loss"]
    ax = plot_history(hist, keys="acc")
    assert ax.get_ylabel() == "accuracy"
    with pytest.raises(KeyError, match="has no"):
        plot_history(hist, keys=["val_acc"])
    plt.close("all")
