"""GLRec: identity start, learning signal, checkpoint/resume and architecture checks."""
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from ppcl.data.partial import simulate_partial_batch
from ppcl.evaluate.glrec import glrec_metrics
from ppcl.losses import glrec_loss
from ppcl.models.glrec import GLRec, GLRecConfig
from ppcl.pretrain import glrec_step
from ppcl.io import load_checkpoint
from ppcl.train import fit, set_seed

TINY = GLRecConfig(depth="resnet10", width=8, input_size=(32, 16))


def _images(n=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    # Smooth, structured images: vertical gradient plus colour blobs, so layout is learnable.
    y = torch.linspace(0, 1, 32).view(1, 1, 32, 1).expand(n, 1, 32, 16)
    return torch.cat([y, 1 - y, torch.rand(n, 1, 1, 1, generator=g).expand(n, 1, 32, 16)], 1)


def test_identity_initialised_R_leaves_holistic_images_unchanged():
    set_seed(0)
    model = GLRec(TINY)
    x = _images(4)
    t, logit = model(x)
    assert torch.allclose(t, torch.tensor([1.0, 1, 0, 0]).expand(4, 4))
    assert torch.allclose(torch.sigmoid(logit), torch.full((4,), 0.5))
    out = model.rectify(x, out_size=(32, 16), gate=False)  # even when forced to rectify
    assert torch.allclose(out["x_r"], x, atol=1e-5)


def test_gate_passes_holistic_verdicts_through():
    model = GLRec(TINY)
    with torch.no_grad():
        model.head.bias[4] = -5.0  # confident "holistic"
        model.head.bias[:4] = torch.tensor([0.5, 0.5, 0.0, 0.0])
    x = _images(2)
    out = model.rectify(x, out_size=(32, 16))
    assert not out["partial"].any()
    assert torch.allclose(out["x_r"], x, atol=1e-5)
    with torch.no_grad():
        model.head.bias[4] = 5.0
    out = model.rectify(x, out_size=(32, 16))
    assert out["partial"].all() and not torch.allclose(out["x_r"], x, atol=1e-2)


def test_a_few_steps_reduce_L_R_on_a_fixed_batch():
    set_seed(0)
    model = GLRec(TINY)
    x = _images(32)
    x_p, t, is_p, _ = simulate_partial_batch(x, torch.Generator().manual_seed(0), 0.5)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(30):
        terms = glrec_loss(*model(x_p), t, is_p)
        opt.zero_grad()
        terms["loss"].backward()
        opt.step()
        first = first if first is not None else float(terms["L_R"].detach())
    with torch.no_grad():
        final = glrec_loss(*model(x_p), t, is_p)
    assert float(final["L_R"]) < 0.5 * first


def _run(tmp_path, epochs, name="ck.pt", resume=True):
    set_seed(0)
    model = GLRec(TINY)
    loader = DataLoader(TensorDataset(_images(32)), batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(0))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    hist = fit(model, glrec_step(model), loader, opt, epochs, tmp_path / name, seed=3, resume=resume, progress=False)
    return model, opt, hist


def test_resume_continues_from_the_saved_epoch_with_the_same_optimiser_state(tmp_path):
    straight, opt_s, hist_s = _run(tmp_path, 2, "straight.pt")
    _run(tmp_path, 1, "resumed.pt")  # "interrupted" after epoch 1
    ck = torch.load(tmp_path / "resumed.pt", weights_only=True)
    assert ck["epoch"] == 0 and len(ck["optimizer"]["state"]) > 0
    resumed, opt_r, hist_r = _run(tmp_path, 2, "resumed.pt")
    assert [e["epoch"] for e in hist_r.epochs] == [0, 1]
    assert len(hist_r.steps) == len(hist_s.steps) == 8
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
    sa, sb = opt_s.state_dict()["state"], opt_r.state_dict()["state"]
    assert all(torch.equal(sa[k]["exp_avg"], sb[k]["exp_avg"]) for k in sa)
    # A finished checkpoint makes a re-run a no-op.
    again, _, hist_a = _run(tmp_path, 2, "resumed.pt")
    assert len(hist_a.steps) == 8


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    _run(tmp_path, 1, "tiny.pt")
    other = GLRec(GLRecConfig(depth="resnet10", width=16, input_size=(32, 16)))
    with pytest.raises(ValueError, match=r"tiny\.pt: expected a checkpoint of .*'width': 16.*found one of .*'width': 8"):
        load_checkpoint(tmp_path / "tiny.pt", other)


def test_truncated_checkpoint_is_refused_naming_the_file(tmp_path):
    _run(tmp_path, 1, "ok.pt")
    data = (tmp_path / "ok.pt").read_bytes()
    (tmp_path / "bad.pt").write_bytes(data[: len(data) // 3])
    with pytest.raises(ValueError, match=r"bad\.pt: expected a ppcl checkpoint"):
        load_checkpoint(tmp_path / "bad.pt", GLRec(TINY))
    with pytest.raises(FileNotFoundError, match=r"missing\.pt"):
        load_checkpoint(tmp_path / "missing.pt", GLRec(TINY))


def test_glrec_metrics_hand_worked():
    t_true = torch.tensor([[0.5, 1, -0.5, 0], [1, 0.5, 0, 0.5], [1, 1, 0, 0]])
    t_pred = torch.tensor([[0.5, 1, -0.5, 0], [1, 0.25, 0, 0.75], [1, 1, 0, 0]])
    eta = torch.tensor([0.9, 0.2, 0.1])
    m = glrec_metrics(t_pred, eta, t_true, torch.tensor([1.0, 1, 0]), ["left", "bottom", "whole"])
    assert m["gate_accuracy"] == pytest.approx(2 / 3)
    assert m["mean_iou"] == pytest.approx((1.0 + 0.5) / 2)
    assert {r["side"]: r["mean_iou"] for r in m["by_side"] if r["side"] != "whole"} == {"left": 1.0, "bottom": 0.5}


def test_the_gate_threshold_is_chosen_by_balanced_accuracy_and_kept():
    """choose_threshold on hand-set gate scores: cut images score 0.3-0.9, whole ones 0.1-0.25, so
    every threshold in (0.25, 0.3] separates them; the grid's 0.3 is the only perfect one."""
    from ppcl.models.glrec import GLRec, GLRecConfig

    g = GLRec(GLRecConfig("resnet10", 8, (32, 16)))
    eta = torch.tensor([0.3, 0.5, 0.9, 0.7, 0.1, 0.2, 0.25, 0.15])
    is_p = torch.tensor([1, 1, 1, 1, 0, 0, 0, 0])
    x = torch.zeros(8, 3, 32, 16)
    g.forward = lambda x_p: (torch.zeros(len(x_p), 4), torch.logit(eta[: len(x_p)]))
    rows = g.choose_threshold(x, is_p, grid=(0.2, 0.3, 0.5, 0.8))
    assert float(g.threshold) == pytest.approx(0.3)
    by = {r["threshold"]: r for r in rows}
    assert by[0.5]["balanced_accuracy"] == pytest.approx(1 - (0.25 + 0.0) / 2)  # 0.3 called whole
    assert by[0.2]["holistic_called_partial"] == pytest.approx(0.5)  # 0.2 and 0.25 called partial
    out = g.rectify(x, out_size=(32, 16))
    assert out["partial"].tolist() == [True, True, True, True, False, False, False, False]
    assert g.state_dict()["threshold"] == pytest.approx(0.3)  # saved with the weights
    with pytest.raises(ValueError, match="both cropped and holistic"):
        g.choose_threshold(x, torch.ones(8))


def test_ties_go_to_the_papers_half():
    from ppcl.models.glrec import GLRec, GLRecConfig

    g = GLRec(GLRecConfig("resnet10", 8, (32, 16)))
    eta = torch.tensor([0.9, 0.95, 0.05, 0.1])
    g.forward = lambda x_p: (torch.zeros(len(x_p), 4), torch.logit(eta[: len(x_p)]))
    g.choose_threshold(torch.zeros(4, 3, 32, 16), torch.tensor([1, 1, 0, 0]), grid=(0.2, 0.4, 0.5, 0.7))
    assert float(g.threshold) == pytest.approx(0.5)


@pytest.mark.parametrize("fixed", [0.0, 0.35])
def test_exactly_one_gate_candidate_is_marked_in_use_when_float32_cannot_hold_it(monkeypatch, fixed):
    """G's threshold is a float32 buffer: 0.35 reads back as 0.3499999940. Whether chosen on
    validation (``fixed = 0``: scores put the only perfect cut at 0.35) or fixed by the recipe, the
    gate table marks exactly that candidate (a run on another float order chose 0.35 and marked none)."""
    import dataclasses

    import ppcl.pipeline.training as recipes
    from ppcl.pipeline.profiles import GLRecRecipe

    eta = torch.tensor([0.36, 0.5, 0.9, 0.7, 0.1, 0.2, 0.33, 0.15])
    is_p = torch.tensor([1, 1, 1, 1, 0, 0, 0, 0])
    monkeypatch.setattr(recipes, "gate_validation", lambda recipe, records, seed: {"x_p": torch.zeros(8, 3, 32, 16), "is_partial": is_p})
    g = GLRec(GLRecConfig("resnet10", 8, (32, 16)))
    g.forward = lambda x_p: (torch.zeros(len(x_p), 4), torch.logit(eta[: len(x_p)]))
    rows = recipes.choose_gate(g, dataclasses.replace(GLRecRecipe(), gate_threshold=fixed), [], seed=0)
    chosen = [r["threshold"] for r in rows if r["chosen"]]
    assert chosen == [pytest.approx(0.35)], chosen
    assert float(g.threshold) == pytest.approx(0.35)
