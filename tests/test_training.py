import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from transfer_utils.nets.batches import autocast_dtype, to_device
from transfer_utils.nets.training import evaluate, fit

CPU = torch.device("cpu")


def test_one_full_batch_epoch_equals_a_gradient_step():
    """fit with one full batch and SGD is exactly w <- w - lr * grad of the MSE (closed form)."""
    X, y = torch.randn(32, 3, dtype=torch.float64), torch.randn(32, dtype=torch.float64)
    model = nn.Linear(3, 1, bias=False).double()
    w0 = model.weight.detach().clone().ravel()
    lr = 0.1
    fit(model, DataLoader(TensorDataset(X, y), batch_size=32),
        loss_fn=lambda out, t: ((out.squeeze(1) - t) ** 2).mean(),
        optimizer=torch.optim.SGD(model.parameters(), lr=lr), num_epochs=1, device=CPU, progress=False)
    grad = 2 * X.T @ (X @ w0 - y) / len(y)  # d/dw mean((Xw - y)^2)
    torch.testing.assert_close(model.weight.detach().ravel(), w0 - lr * grad)


def test_history_and_accuracy_match_manual_computation():
    X = torch.randn(200, 2)
    y = (X[:, 0] > 0).long()
    model = nn.Linear(2, 2)
    loader = DataLoader(TensorDataset(X, y), batch_size=64, shuffle=True)
    hist = fit(model, loader, loss_fn=nn.CrossEntropyLoss(), optimizer=torch.optim.SGD(model.parameters(), lr=0.5),
               num_epochs=5, device=CPU, val_loader=DataLoader(TensorDataset(X, y), batch_size=50), progress=False)
    assert hist["epoch"] == [1, 2, 3, 4, 5]
    for key in ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "time_s"):
        assert len(hist[key]) == 5
    assert hist["train_loss"][-1] < hist["train_loss"][0]
    with torch.no_grad():
        logits = model(X)
    res = evaluate(model, DataLoader(TensorDataset(X, y), batch_size=7), device=CPU, loss_fn=nn.CrossEntropyLoss())
    assert res["accuracy"] == pytest.approx((logits.argmax(1) == y).float().mean().item())
    assert res["loss"] == pytest.approx(nn.functional.cross_entropy(logits, y).item(), rel=1e-5)
    assert hist["val_acc"][-1] == pytest.approx(res["accuracy"])


def test_regression_targets_have_no_accuracy():
    X, y = torch.randn(20, 2), torch.randn(20)
    model = nn.Linear(2, 1)
    res = evaluate(model, DataLoader(TensorDataset(X, y), batch_size=5), device=CPU,
                   loss_fn=lambda o, t: ((o.squeeze(1) - t) ** 2).mean())
    assert set(res) == {"loss"}


def test_scheduler_per_batch_and_per_epoch():
    X, y = torch.randn(40, 2), torch.randint(0, 2, (40,))
    loader = DataLoader(TensorDataset(X, y), batch_size=10)  # 4 batches
    for per_batch, expected_steps in ((True, 8), (False, 2)):
        model = nn.Linear(2, 2)
        opt = torch.optim.SGD(model.parameters(), lr=1.0)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 0.5 ** step)
        fit(model, loader, loss_fn=nn.CrossEntropyLoss(), optimizer=opt, num_epochs=2, device=CPU,
            scheduler=sched, step_scheduler_per_batch=per_batch, progress=False)
        assert opt.param_groups[0]["lr"] == pytest.approx(0.5 ** expected_steps)


def test_non_finite_loss_stops_clearly():
    X, y = torch.randn(16, 2), torch.randn(16)
    X[3, 0] = math.nan
    model = nn.Linear(2, 1)
    with pytest.raises(FloatingPointError, match="not finite"):
        fit(model, DataLoader(TensorDataset(X, y), batch_size=8), loss_fn=lambda o, t: ((o.squeeze(1) - t) ** 2).mean(),
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1), num_epochs=1, device=CPU, progress=False)


def test_bad_input_is_clear():
    model = nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    empty = DataLoader(TensorDataset(torch.zeros(0, 2), torch.zeros(0, dtype=torch.long)), batch_size=4)
    with pytest.raises(ValueError, match="train_loader is empty"):
        fit(model, empty, loss_fn=nn.CrossEntropyLoss(), optimizer=opt, num_epochs=1, device=CPU)
    ok = DataLoader(TensorDataset(torch.zeros(4, 2), torch.zeros(4, dtype=torch.long)), batch_size=4)
    with pytest.raises(ValueError, match="num_epochs"):
        fit(model, ok, loss_fn=nn.CrossEntropyLoss(), optimizer=opt, num_epochs=0, device=CPU)
    with pytest.raises(ValueError, match=r"\(inputs, targets\)"):
        fit(model, [torch.zeros(4, 2)], loss_fn=nn.CrossEntropyLoss(), optimizer=opt, num_epochs=1, device=CPU)


def test_to_device_nested():
    batch = {"x": torch.zeros(1), "pair": (torch.ones(1), [torch.ones(2)]), "name": "n"}
    moved = to_device(batch, CPU)
    assert moved["name"] == "n" and isinstance(moved["pair"], tuple) and moved["pair"][1][0].shape == (2,)


def test_autocast_dtype_only_on_cuda():
    assert autocast_dtype(torch.device("cpu")) is None
    if torch.cuda.is_available():
        assert autocast_dtype(torch.device("cuda")) in (torch.bfloat16, torch.float16)


def test_adam_minimize_matches_a_hand_written_adam():
    """adam_minimize against Adam's update written out (Kingma and Ba, Algorithm 1) on a quadratic."""
    from transfer_utils.bayes.fitting import adam_minimize

    target = torch.tensor([3.0, -1.0], dtype=torch.float64)
    x = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    losses = adam_minimize(lambda: ((x - target) ** 2).sum(), [x], num_steps=30, lr=0.1)
    z, m, v, ref_losses = torch.zeros(2, dtype=torch.float64), 0.0, 0.0, []
    for k in range(1, 31):
        ref_losses.append(float(((z - target) ** 2).sum()))
        grad = 2 * (z - target)
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        z = z - 0.1 * (m / (1 - 0.9**k)) / ((v / (1 - 0.999**k)).sqrt() + 1e-8)
    torch.testing.assert_close(x.detach(), z)
    assert losses == pytest.approx(ref_losses, rel=1e-12)
    with pytest.raises(ValueError, match="parameter"):
        adam_minimize(lambda: x.sum(), [], num_steps=1, lr=0.1)
