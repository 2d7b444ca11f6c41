"""The ImageNet weights the paper profile starts F (ResNet-50) and R (ResNet-18) from, offline.

State dicts of the right shapes (torchvision's ResNets built with ``weights=None``, random, saved
under torchvision's file names) stand in for the real files in a temporary ``$TORCH_HOME``:
nothing is downloaded. Checked: the cache path and file names (and that docs/real-data.md gives
them), loading into the kit's trunks tensor for tensor, the errors for a missing file, a file of
another architecture and a file that is not a state dict, a recipe's ``weights`` path taking the
place of the cache, and what the device check makes of the files being there.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import torchvision

from ppcl.models.backbone import BackboneConfig, ReIDBackbone
from ppcl.models.glrec import GLRec, GLRecConfig
from ppcl.models.resnet import ResNetTrunk, imagenet_weights_path, load_imagenet_weights, state_dict_arch
from ppcl.pipeline.devicecheck import check_overrides, imagenet_available
from ppcl.pipeline.profiles import load_profile
from ppcl.pipeline.reproduce import parse_overrides

DOC = Path(__file__).resolve().parents[1] / "docs" / "real-data.md"
FILES = {"resnet50": "resnet50-0676ba61.pth", "resnet18": "resnet18-f37072fd.pth"}
URLS = {"resnet50": torchvision.models.ResNet50_Weights.IMAGENET1K_V1.url,
        "resnet18": torchvision.models.ResNet18_Weights.IMAGENET1K_V1.url}
RECIPES = ("glrec", "ppcl", ("faces", "glrec"))  # where the paper profile switches ImageNet weights on


@pytest.fixture(scope="module")
def states() -> dict[str, dict]:
    """A torchvision ResNet-50 and ResNet-18 state dict (random weights, torchvision's keys and shapes)."""
    torch.manual_seed(123)
    return {"resnet50": torchvision.models.resnet50(weights=None).state_dict(),
            "resnet18": torchvision.models.resnet18(weights=None).state_dict()}


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty torchvision cache: ``$TORCH_HOME/hub/checkpoints`` under a temporary ``$TORCH_HOME``."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    assert Path(torch.hub.get_dir()) == tmp_path / "torch" / "hub"
    return tmp_path / "torch" / "hub" / "checkpoints"


def save(state: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path


def assert_holds(trunk: torch.nn.Module, state: dict) -> None:
    """Every tensor of ``trunk`` equals the state dict's (the ImageNet classifier ``fc.`` aside)."""
    own = trunk.state_dict()
    assert set(own) == {k for k in state if not k.startswith("fc.")}
    for k, v in own.items():
        assert torch.equal(v, state[k]), k


def recipe(profile, key) -> object:
    return getattr(profile.faces, key[1]) if isinstance(key, tuple) else getattr(profile, key)


def test_the_cache_holds_torchvisions_file_names_and_the_doc_says_so(cache):
    doc = DOC.read_text()
    for depth, name in FILES.items():
        assert imagenet_weights_path(depth) == cache / name
        assert Path(URLS[depth]).name == name
        assert f"`{name}`" in doc and URLS[depth] in doc
    assert "$TORCH_HOME/hub/checkpoints/" in doc


@pytest.mark.parametrize("depth", sorted(FILES))
def test_weights_in_the_cache_load_into_the_trunk(cache, states, depth):
    save(states[depth], cache / FILES[depth])
    trunk = ResNetTrunk(depth, 64, last_stride=1)
    assert not torch.equal(trunk.conv1.weight, states[depth]["conv1.weight"])  # the kit's own initialisation first
    assert_holds(load_imagenet_weights(trunk, depth), states[depth])


def test_the_models_load_them_when_asked(cache, states):
    for depth in FILES:
        save(states[depth], cache / FILES[depth])
    assert_holds(ReIDBackbone(BackboneConfig(depth="resnet50"), imagenet=True).trunk, states["resnet50"])
    assert_holds(GLRec(GLRecConfig(depth="resnet18"), imagenet=True).trunk, states["resnet18"])


def test_a_missing_file_names_the_path_and_the_file(cache, tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        load_imagenet_weights(ResNetTrunk("resnet18"), "resnet18")
    msg = str(e.value)
    assert msg.startswith(f"{cache / FILES['resnet18']}: expected torchvision's ImageNet weights for resnet18")
    assert URLS["resnet18"] in msg and "--set ppcl.weights=" in msg
    elsewhere = tmp_path / "models" / "mine.pth"
    with pytest.raises(FileNotFoundError) as e:
        load_imagenet_weights(ResNetTrunk("resnet50"), "resnet50", str(elsewhere))
    assert str(e.value).startswith(f"{elsewhere}: expected torchvision's ImageNet weights for resnet50 ({FILES['resnet50']}")
    assert "the recipe's weights path" in str(e.value)


def test_a_file_of_another_architecture_is_refused_naming_it(cache, states):
    path = save(states["resnet18"], cache / FILES["resnet50"])  # ResNet-18 weights under ResNet-50's name
    trunk = ResNetTrunk("resnet50")
    before = {k: v.clone() for k, v in trunk.state_dict().items()}
    with pytest.raises(ValueError) as e:
        load_imagenet_weights(trunk, "resnet50")
    msg = str(e.value)
    assert msg.startswith(f"{path}: expected torchvision's resnet50 ImageNet state dict")
    assert "found resnet18 (basic blocks 2-2-2-2, width 64)" in msg
    assert all(torch.equal(v, before[k]) for k, v in trunk.state_dict().items())  # nothing half-copied
    narrow = ResNetTrunk("resnet18", width=16)  # the right file for a trunk it cannot fit
    save(states["resnet18"], cache / FILES["resnet18"])
    with pytest.raises(ValueError, match=r"for a width-64 trunk; found resnet18 .*of another shape"):
        load_imagenet_weights(narrow, "resnet18")


def test_a_file_that_is_not_a_state_dict_is_refused_naming_it(cache):
    bad = cache / FILES["resnet18"]
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"<html>download interrupted</html>")
    with pytest.raises(ValueError, match=rf"^{re.escape(str(bad))}: expected a resnet18 state dict saved by torch\.save"):
        load_imagenet_weights(ResNetTrunk("resnet18"), "resnet18")
    save({"model": {"conv1.weight": torch.zeros(1)}}, bad)
    with pytest.raises(ValueError, match=r"expected a resnet18 state dict \(parameter name -> tensor\); found a dict"):
        load_imagenet_weights(ResNetTrunk("resnet18"), "resnet18")


def test_state_dict_arch_names_what_a_file_holds(states):
    assert state_dict_arch(states["resnet50"]) == "resnet50 (bottleneck blocks 3-4-6-3, width 64)"
    assert state_dict_arch(states["resnet18"]) == "resnet18 (basic blocks 2-2-2-2, width 64)"
    assert state_dict_arch({"weight": torch.zeros(1)}).startswith("not a torchvision ResNet (keys weight")


def test_a_recipes_weights_path_is_used_instead_of_the_cache(cache, states, tmp_path):
    """The doc's ``--set <recipe>.weights=...`` (its folder moved to a temporary one) beats a file in the cache."""
    for depth in FILES:
        save(states[depth], cache / FILES[depth])
    torch.manual_seed(7)
    other = {"resnet50": torchvision.models.resnet50(weights=None).state_dict(),
             "resnet18": torchvision.models.resnet18(weights=None).state_dict()}
    sets = re.findall(r"--set (\S+\.weights=\S+?)`", DOC.read_text())
    assert sorted(s.split("=")[0] for s in sets) == ["faces.glrec.weights", "glrec.weights", "ppcl.weights"]
    for depth in FILES:
        save(other[depth], tmp_path / "models" / FILES[depth])
    sets = [s.replace("'", "").replace('"/models/', f'"{tmp_path}/models/') for s in sets]
    prof = load_profile("paper", parse_overrides(sets))
    assert_holds(load_imagenet_weights(ResNetTrunk("resnet50"), prof.ppcl.backbone.depth, prof.ppcl.weights), other["resnet50"])
    for r in (prof.glrec, prof.faces.glrec):
        assert_holds(GLRec(r.model, imagenet=r.imagenet, weights=r.weights).trunk, other["resnet18"])


def test_the_device_check_uses_the_weights_when_both_are_there(cache, states):
    def switched(overrides: dict) -> set[bool]:
        prof = load_profile("paper", overrides)
        return {recipe(prof, key).imagenet for key in RECIPES}

    assert not imagenet_available() and switched(check_overrides(shrink=False)) == {False}
    save(states["resnet50"], cache / FILES["resnet50"])
    assert not imagenet_available() and switched(check_overrides(shrink=False)) == {False}  # one of two is not enough
    save(states["resnet18"], cache / FILES["resnet18"])
    assert imagenet_available() and switched(check_overrides(shrink=False)) == {True}
    assert switched(check_overrides(shrink=True)) == {False}  # the shrunk networks have no ImageNet weights
    prof = load_profile("paper", check_overrides(shrink=False))  # and what the check's training then loads
    assert imagenet_weights_path(prof.ppcl.backbone.depth, prof.ppcl.weights) == cache / FILES["resnet50"]
    assert_holds(GLRec(prof.glrec.model, imagenet=True, weights=prof.glrec.weights).trunk, states["resnet18"])
