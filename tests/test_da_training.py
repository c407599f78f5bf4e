"""Tests for transfer_utils.adaptation.training: one step against a hand-written step, loaders, errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from transfer_utils.adaptation.adversarial import DANNLoss, DomainDiscriminator
from transfer_utils.adaptation.coral import CORALLoss, coral_loss
from transfer_utils.adaptation.training import ForeverIterator, train_da
from transfer_utils.nets.features import extract_features
from transfer_utils.nets.training import evaluate


def _data(seed=0):
    g = torch.Generator().manual_seed(seed)
    Xs = torch.randn(40, 2, generator=g)
    ys = (Xs[:, 0] > 0).long()
    Xt = torch.randn(25, 2, generator=g) + 0.5
    yt = (Xt[:, 0] > 0.5).long()
    return Xs, ys, Xt, yt


def _nets(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 8), nn.Tanh()), nn.Linear(8, 2)


def test_one_step_equals_hand_written_step():
    Xs, ys, Xt, _ = _data()
    G, C = _nets()
    G2, C2 = _nets()
    opt = torch.optim.SGD([*G.parameters(), *C.parameters()], lr=0.1)
    train_da(G, C, DataLoader(TensorDataset(Xs, ys), batch_size=40), DataLoader(TensorDataset(Xt), batch_size=25),
             optimizer=opt, num_steps=1, device="cpu", adaptation_loss=CORALLoss(), trade_off=2.0,
             progress=False)
    feats = G2(torch.cat([Xs, Xt]))
    loss = nn.functional.cross_entropy(C2(feats[:40]), ys) + 2.0 * coral_loss(feats[:40], feats[40:])
    loss.backward()
    with torch.no_grad():
        for p, q in zip([*G.parameters(), *C.parameters()], [*G2.parameters(), *C2.parameters()]):
            torch.testing.assert_close(p, q - 0.1 * q.grad)


def test_dann_history_with_loaders_of_different_lengths():
    Xs, ys, Xt, yt = _data()
    G, C = _nets()
    loss = DANNLoss(DomainDiscriminator(8, hidden_size=16))
    opt = torch.optim.Adam([*G.parameters(), *C.parameters(), *loss.parameters()], lr=1e-2)
    src = DataLoader(TensorDataset(Xs, ys), batch_size=8, shuffle=True)   # 5 batches
    tgt = DataLoader(TensorDataset(Xt, yt), batch_size=8, shuffle=True)   # 4 batches, labels ignored
    evals = {"source": DataLoader(TensorDataset(Xs, ys), batch_size=64),
             "target": DataLoader(TensorDataset(Xt, yt), batch_size=64)}
    hist = train_da(G, C, src, tgt, optimizer=opt, num_steps=23, device="cpu", adaptation_loss=loss,
                    eval_loaders=evals, eval_every=5, progress=False)
    assert hist["step"] == [5, 10, 15, 20, 23]
    for key in ("cls_loss", "da_loss", "train_acc", "domain_acc", "lambda", "source_acc", "target_acc"):
        assert len(hist[key]) == 5, key
    assert all(0.0 <= a <= 1.0 for a in hist["domain_acc"])
    assert hist["lambda"] == sorted(hist["lambda"]) and 0 < hist["lambda"][-1] < 1
    assert evaluate(nn.Sequential(G, C), evals["target"], device="cpu")["accuracy"] == pytest.approx(
        hist["target_acc"][-1])
    F, y = extract_features(G, evals["target"], device="cpu")
    assert F.shape == (25, 8) and torch.equal(y, yt)


def test_source_only_learns():
    Xs, ys, _, _ = _data()
    G, C = _nets()
    opt = torch.optim.Adam([*G.parameters(), *C.parameters()], lr=5e-2)
    hist = train_da(G, C, DataLoader(TensorDataset(Xs, ys), batch_size=10, shuffle=True), None,
                    optimizer=opt, num_steps=60, device="cpu", progress=False)
    assert hist["train_acc"][-1] > 0.9 and "domain_acc" not in hist


def test_errors():
    Xs, ys, Xt, _ = _data()
    G, C = _nets()
    src = DataLoader(TensorDataset(Xs, ys), batch_size=8)
    tgt = DataLoader(TensorDataset(Xt), batch_size=8)
    opt = torch.optim.SGD([*G.parameters(), *C.parameters()], lr=0.1)
    dann = DANNLoss(DomainDiscriminator(8))
    with pytest.raises(ValueError, match="optimizer does not update"):
        train_da(G, C, src, tgt, optimizer=opt, num_steps=2, device="cpu", adaptation_loss=dann, progress=False)
    with pytest.raises(ValueError, match="target_loader"):
        train_da(G, C, src, None, optimizer=opt, num_steps=2, device="cpu", adaptation_loss=CORALLoss(),
                 progress=False)
    with pytest.raises(ValueError, match="num_steps"):
        train_da(G, C, src, tgt, optimizer=opt, num_steps=0, device="cpu", progress=False)
    empty = DataLoader(TensorDataset(Xt[:3]), batch_size=8, drop_last=True)
    with pytest.raises(ValueError, match="target_loader yields no batches"):
        train_da(G, C, src, empty, optimizer=opt, num_steps=2, device="cpu", adaptation_loss=CORALLoss(),
                 progress=False)
    with pytest.raises(ValueError, match="differ in shape"):
        train_da(G, C, src, DataLoader(TensorDataset(torch.randn(8, 3)), batch_size=8), optimizer=opt,
                 num_steps=1, device="cpu", adaptation_loss=CORALLoss(), progress=False)


def test_forever_iterator_restarts():
    it = ForeverIterator([1, 2, 3])
    assert [next(it) for _ in range(7)] == [1, 2, 3, 1, 2, 3, 1] and it.passes == 2


def test_tensor_loader_batches_and_shuffles():
    from transfer_utils.adaptation.training import TensorLoader

    X, y = torch.arange(10.0).unsqueeze(1), torch.arange(10)
    loader = TensorLoader(X, y, batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and [len(b[1]) for b in batches] == [4, 4, 2]
    assert torch.equal(torch.cat([b[1] for b in batches]), y)
    shuffled = TensorLoader(X, y, batch_size=4, shuffle=True, drop_last=True,
                            generator=torch.Generator().manual_seed(0))
    got = torch.cat([b[1] for b in shuffled])
    assert len(shuffled) == 2 and len(got) == 8 and len(set(got.tolist())) == 8
    assert all(torch.equal(bx.squeeze(1).long(), by) for bx, by in shuffled)
    with pytest.raises(ValueError, match="same first dimension"):
        TensorLoader(X, y[:5])


def test_plots_return_axes_and_check_input():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from transfer_utils.adaptation.plots import embed_2d, plot_decision_boundary, plot_embedding_before_after

    Xs, ys, Xt, yt = _data()
    G, C = _nets()
    ax = plot_decision_boundary(nn.Sequential(G, C), Xs, ys, Xt, yt, grid_size=20)
    assert ax.get_xlabel() == "$x_1$"
    axes = plot_embedding_before_after((Xs, Xt), (Xs, Xt, ys, yt), max_points=10)
    assert len(axes) == 2
    E_s, E_t = embed_2d(torch.randn(7, 5), torch.randn(4, 5))
    assert E_s.shape == (7, 2) and E_t.shape == (4, 2)
    # the joint PCA embedding preserves pairwise distances when d = 2
    A, B = torch.randn(6, 2, dtype=torch.float64), torch.randn(3, 2, dtype=torch.float64)
    Es, Et = embed_2d(A, B)
    import numpy as np
    Z, E = np.concatenate([A.numpy(), B.numpy()]), np.concatenate([Es, Et])
    np.testing.assert_allclose(np.linalg.norm(Z[0] - Z[5]), np.linalg.norm(E[0] - E[5]))
    with pytest.raises(ValueError, match="differ in size"):
        embed_2d(torch.randn(5, 3), torch.randn(5, 4))
    with pytest.raises(ValueError, match="shape \\(n, 2\\)"):
        plot_decision_boundary(lambda X: X, torch.randn(5, 3), torch.zeros(5, dtype=torch.long))
    plt.close("all")


def test_loop_talks_to_the_loss_only_through_the_adaptation_loss_interface():
    """A custom AdaptationLoss sees set_progress((step - 1)/num_steps) before every step, its
    logits when uses_logits is True, and its reported accuracy and lambda reach the history."""
    from transfer_utils.adaptation.loss import AdaptationLoss

    class Probe(AdaptationLoss):
        uses_logits = True

        def __init__(self) -> None:
            super().__init__()
            self.progress: list[float] = []

        def set_progress(self, progress: float) -> None:
            self.progress.append(progress)

        @property
        def grl_lambda(self) -> float | None:
            return 2.0 * self.progress[-1]

        def forward(self, f_src, f_tgt, logits_src, logits_tgt):
            assert logits_src.shape[1] == logits_tgt.shape[1] == 2
            self.last_domain_accuracy = torch.tensor(0.75)
            return (f_src.mean() - f_tgt.mean()) ** 2

    Xs, ys, Xt, _ = _data()
    G, C = _nets()
    probe = Probe()
    opt = torch.optim.SGD([*G.parameters(), *C.parameters()], lr=0.1)
    hist = train_da(G, C, DataLoader(TensorDataset(Xs, ys), batch_size=8), DataLoader(TensorDataset(Xt), batch_size=8),
                    optimizer=opt, num_steps=4, device="cpu", adaptation_loss=probe, eval_every=2, progress=False)
    assert probe.progress == [0.0, 0.25, 0.5, 0.75]
    assert hist["domain_acc"] == pytest.approx([0.75, 0.75])
    assert hist["lambda"] == pytest.approx([0.5, 1.5])
    with pytest.raises(TypeError, match="AdaptationLoss"):
        train_da(G, C, DataLoader(TensorDataset(Xs, ys), batch_size=8), DataLoader(TensorDataset(Xt), batch_size=8),
                 optimizer=opt, num_steps=1, device="cpu", adaptation_loss=nn.MSELoss(), progress=False)
