"""A ResNet whose width, depth and last stride are parameters.

Layer and parameter names follow torchvision's ResNet exactly, so at ``width=64`` the
``resnet18`` / ``resnet50`` configurations load torchvision's ImageNet state dicts
unchanged (the ``paper`` profile), while ``width=16`` or ``32`` gives the narrow nets the
CPU profiles can train.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

DEPTHS = {
    "resnet10": ("basic", (1, 1, 1, 1)),
    "resnet18": ("basic", (2, 2, 2, 2)),
    "resnet34": ("basic", (3, 4, 6, 3)),
    "resnet50": ("bottleneck", (3, 4, 6, 3)),
}


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, width: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + idt)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, width: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, width * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + idt)


class ResNetTrunk(nn.Module):
    """ResNet without its pooling and FC: images ``(B, 3, H, W)`` to feature maps.

    ``last_stride=1`` (Luo et al.'s trick) keeps a 256x128 input at a 16x8 map (stride 16);
    ``third_stride=1`` as well gives stride 8 (a 128x64 input then also makes a 16x8 map).
    ``out_channels`` is the depth of the map.
    """

    def __init__(self, depth: str = "resnet50", width: int = 64, last_stride: int = 1, third_stride: int = 2):
        super().__init__()
        if depth not in DEPTHS:
            raise ValueError(f"depth must be one of {sorted(DEPTHS)}; got {depth!r}")
        kind, layers = DEPTHS[depth]
        block = BasicBlock if kind == "basic" else Bottleneck
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = width
        strides = (1, 2, third_stride, last_stride)
        for i, (n, s) in enumerate(zip(layers, strides)):
            w = width * 2**i
            down = None
            if s != 1 or cin != w * block.expansion:
                down = nn.Sequential(
                    nn.Conv2d(cin, w * block.expansion, 1, s, bias=False), nn.BatchNorm2d(w * block.expansion)
                )
            blocks = [block(cin, w, s, down)]
            cin = w * block.expansion
            blocks += [block(cin, w) for _ in range(n - 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.out_channels = cin
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


IMAGENET_DEPTHS = ("resnet18", "resnet34", "resnet50")


def _imagenet_enum(depth: str):
    import torchvision

    enum = {
        "resnet18": torchvision.models.ResNet18_Weights.IMAGENET1K_V1,
        "resnet34": torchvision.models.ResNet34_Weights.IMAGENET1K_V1,
        "resnet50": torchvision.models.ResNet50_Weights.IMAGENET1K_V1,
    }.get(depth)
    if enum is None:
        raise ValueError(f"depth: expected one of {list(IMAGENET_DEPTHS)} for ImageNet weights; found {depth!r}")
    return enum


def imagenet_weights_path(depth: str, weights: str | None = None):
    """Where the kit looks for the ImageNet weights of ``depth``: ``weights`` when given, else
    torchvision's cache, ``$TORCH_HOME/hub/checkpoints/<torchvision's file name>`` (``$TORCH_HOME``
    defaults to ``~/.cache/torch``; the folder is ``torch.hub.get_dir()/checkpoints``):
    ``resnet50-0676ba61.pth`` and ``resnet18-f37072fd.pth``, the files
    ``ResNet50_Weights.IMAGENET1K_V1`` and ``ResNet18_Weights.IMAGENET1K_V1`` name."""
    from pathlib import Path

    fname = Path(_imagenet_enum(depth).url).name
    return Path(weights).expanduser() if weights else Path(torch.hub.get_dir()) / "checkpoints" / fname


def state_dict_arch(state: dict) -> str:
    """What a ResNet state dict is, read from its keys and shapes: e.g. ``"resnet18 (basic blocks
    2-2-2-2, width 64)"``, or ``"not a torchvision ResNet (keys conv1.weight, ...)"``."""
    blocks = [len({k.split(".")[1] for k in state if k.startswith(f"layer{i}.")}) for i in range(1, 5)]
    stem = state.get("conv1.weight")
    if stem is None or not all(blocks):
        return f"not a torchvision ResNet (keys {', '.join(list(state)[:4])}{', ...' if len(state) > 4 else ''})"
    kind = "bottleneck" if any(k.startswith("layer1.0.conv3.") for k in state) else "basic"
    name = next((d for d, (k, n) in DEPTHS.items() if k == kind and list(n) == blocks), None)
    name = name or {(3, 4, 23, 3): "resnet101", (3, 8, 36, 3): "resnet152"}.get(tuple(blocks), "a ResNet")
    return f"{name} ({kind} blocks {'-'.join(map(str, blocks))}, width {tuple(stem.shape)[0]})"


def load_imagenet_weights(trunk: ResNetTrunk, depth: str, weights: str | None = None) -> ResNetTrunk:
    """Load torchvision's ImageNet weights into a width-64 trunk, offline.

    Looks in ``weights`` (a ``.pth`` file) if given, else in torchvision's cache
    (:func:`imagenet_weights_path`); never downloads. Stops with an error naming the file it wanted
    and where to put it; a file that does not load, or holds another architecture (every key and
    shape of the trunk is checked before anything is copied), is refused naming the file and what
    it holds. The file's ``fc.`` (ImageNet classifier) entries are not used.
    """
    enum = _imagenet_enum(depth)
    path = imagenet_weights_path(depth, weights)
    fname = imagenet_weights_path(depth).name
    if not path.is_file():
        where = ("the recipe's weights path" if weights
                 else f"torchvision's cache ($TORCH_HOME/hub/checkpoints, now {path.parent})")
        raise FileNotFoundError(
            f"{path}: expected torchvision's ImageNet weights for {depth} ({fname}, {enum.url}), looked for in {where}; "
            f"found no such file. Download it on a machine with a network and put it at {path}, or point the recipe's "
            "weights at it (--set ppcl.weights='\"/path/to/file.pth\"' for F, glrec.weights / faces.glrec.weights for R)."
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated download, a pickled model, not a torch file at all
        raise ValueError(f"{path}: expected a {depth} state dict saved by torch.save; found a file that does not "
                         f"load as one ({type(e).__name__}: {e})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        found = type(state).__name__ if not isinstance(state, dict) else f"a dict with keys {list(state)[:4]}"
        raise ValueError(f"{path}: expected a {depth} state dict (parameter name -> tensor); found {found}")
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    own = trunk.state_dict()
    optional = lambda k: k.endswith("num_batches_tracked")  # noqa: E731  (older files lack it; BatchNorm fills it in)
    missing = [k for k in own if k not in state and not optional(k)]
    unexpected = [k for k in state if k not in own]
    shapes = [k for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        raise ValueError(
            f"{path}: expected torchvision's {depth} ImageNet state dict for a width-64 trunk; found "
            f"{state_dict_arch(state)} ({len(missing)} keys missing, e.g. {missing[:2]}; {len(unexpected)} unexpected, "
            f"e.g. {unexpected[:2]}; {len(shapes)} of another shape, e.g. {shapes[:2]})"
        )
    trunk.load_state_dict(state, strict=False)
    return trunk
