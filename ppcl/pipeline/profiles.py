"""Profiles: the schema of a run's parameters, and its named sets of values (``profiles.toml``).

A profile is only values: ``ppcl/pipeline/profiles.toml`` (shipped inside the package) holds ``smoke``,
``synthetic`` and ``paper``. The schema is the dataclasses: :class:`Profile` at the top, with
:class:`GLRecRecipe` (notebook 02) and :class:`PPCLRecipe` (notebooks 03 and 04) whose nested
tables are the components' own configs (``GLRecConfig``, ``BackboneConfig``, ``CRLocConfig``)
and whose loss fields are :class:`ppcl.algorithm.PPCLLossConfig`'s; :class:`FaceRecipe`
(``faces``, notebook 05, §5) is a :class:`PPCLRecipe` for faces with its own GLRec recipe, the
face backbone's config (``FaceBackboneConfig``) and the Partial-LFW settings
(:class:`PartialLFWRecipe`). :func:`load_profile` merges
``overrides`` (``--set`` in a batch run, ``overrides`` in a notebook) and validates the result,
so a key no dataclass has is refused naming the valid fields. Nothing in ``ppcl`` depends on
which profile runs.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..algorithm import PPCLLossConfig
from ..config import from_dict, merge, to_dict
from ..data.partial import SIDES
from ..evaluate.compare import CELL_RULES
from ..models.backbone import BackboneConfig
from ..models.crloc import CRLocConfig
from ..models.face import FaceBackboneConfig
from ..models.glrec import GLRecConfig

PROFILE_NAMES = ("smoke", "synthetic", "paper")
LOCATORS = ("centroid", "free", "fit")
NEGATIVES = ("log-uniform", "same-size")


def set_example(key: str, value) -> str:
    """How to give ``key`` the value ``value`` on the command line: ``--set key=VALUE`` with the value
    in TOML, quoted for the shell where it needs it (``--set ppcl.area='[0.3, 0.8]'``)."""
    import json

    if isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, str):
        text = f"'{json.dumps(value)}'"
    elif isinstance(value, (list, tuple)):
        text = f"'{json.dumps(list(value))}'"
    else:
        text = str(value)
    return f"--set {key}={text}"


def refusal(key: str, expected: str, found, example) -> ValueError:
    """A profile value refused before anything runs, naming the setting and how to change it."""
    return ValueError(f"{key}: expected {expected} (e.g. {set_example(key, example)}); found {found}")


def _check_area(key: str, area: tuple[float, float]) -> None:
    if not 0 < area[0] <= area[1] <= 1:
        raise refusal(key, "a visible-area range [lo, hi] with 0 < lo <= hi <= 1", list(area), [0.3, 0.8])


def _check_sides(key: str, sides: tuple[str, ...]) -> None:
    if not sides or set(sides) - set(SIDES):
        raise refusal(key, f"a non-empty list of {list(SIDES)}", list(sides), list(SIDES))


@dataclass(frozen=True)
class GLRecRecipe:
    """GLRec's self-supervised pretraining (notebook 02, §3.1 and §4.2)."""

    model: GLRecConfig = GLRecConfig()
    imagenet: bool = True  # start R's trunk from ImageNet weights (the paper's; the CPU profiles start from scratch)
    weights: str | None = None  # a local ImageNet state dict (offline); default: torchvision's cache
    epochs: int = 60
    batch_size: int = 64
    lr: float = 3e-4
    weight_decay: float = 5e-4
    partial_share: float = 0.5  # share of each batch cropped to a partial view (the rest stay holistic)
    area: tuple[float, float] = (0.3, 0.8)  # visible-area ratio of the simulated crops
    workers: int = 0  # DataLoader worker processes (0: load in the main process); seeds the augmentation, so part of the model's key
    gate_threshold: float = 0.5  # G's threshold in (0, 1) (the paper's 0.5); 0: chosen on validation crops of training images


@dataclass(frozen=True)
class PPCLRecipe(PPCLLossConfig):
    """F and CRLoc trained by Algorithm 1 (notebooks 03 and 04): the loss fields of
    :class:`~ppcl.algorithm.PPCLLossConfig` (λ_cyc, λ_tri, β, α, ...) plus the networks, the
    optimiser, PK sampling, the validation split and the evaluation options."""

    backbone: BackboneConfig = BackboneConfig()
    crloc: CRLocConfig = CRLocConfig()
    imagenet: bool = True  # start F from ImageNet weights (the paper's; the CPU profiles start from scratch)
    weights: str | None = None
    epochs: int = 120
    p: int = 16  # identities per batch
    k: int = 4  # images per identity
    lr: float = 3.5e-4
    weight_decay: float = 5e-4
    warmup_epochs: int = 10
    erase: float = 0.5  # random-erasing probability
    label_smoothing: float = 0.1  # L_F's softmax cross-entropy (the re-ID recipe of Luo et al.)
    workers: int = 0  # DataLoader worker processes (0: load in the main process); seeds the augmentation, so part of the model's key
    n_val_ids: int = 50  # training identities held out for validation (model selection)
    validate_from: float = 0.0  # validate (and keep the best of) the epochs from this fraction of the schedule on
    val_queries_per_id: int = 4
    val_view_width: tuple[float, float] = (1.0, 1.0)  # validation queries cut in the image narrowed to U(this) of its width, as
                                                      # training cuts its views (view_width); (1, 1): cut in the frame, the paper's
    topk: int = 0  # re-rank only the top-K of +R with CRLoc (0: every pair)
    fuse_weights: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)  # +R+L+G, chosen on validation

    def loss(self, **changes) -> PPCLLossConfig:
        """The :class:`PPCLLossConfig` part, with ``changes`` (e.g. a variant's λ)."""
        base = {f: getattr(self, f) for f in PPCLLossConfig.__dataclass_fields__}
        return PPCLLossConfig(**{**base, **changes})


@dataclass(frozen=True)
class PartialLFWRecipe:
    """The Partial-LFW test set (§5.1, :func:`ppcl.data.partial_lfw.build_partial_lfw`)."""

    n_ids: int = 1000  # the identities with the most images; 0: every identity with two or more
    area: tuple[float, float] = (0.3, 0.8)  # visible-area ratio of the partial queries ("proximate")
    sides: tuple[str, ...] = SIDES
    seed_offset: int = 1000  # the crops are drawn with the profile's seed + seed_offset (no training stream reused)

    def __post_init__(self) -> None:
        if self.n_ids < 0:
            raise refusal("faces.partial_lfw.n_ids", "0 (every identity with two or more images) or more", self.n_ids, 0)
        _check_area("faces.partial_lfw.area", self.area)
        _check_sides("faces.partial_lfw.sides", self.sides)


@dataclass(frozen=True)
class FaceRecipe(PPCLRecipe):
    """The face extension (notebook 05, §5): PPCL's recipe with the face backbone (VGG-16 style
    trunk + GDC head, :class:`~ppcl.models.face.FaceBackboneConfig`) trained on CASIA-WebFace
    style identities, its own GLRec (the same :class:`~ppcl.models.glrec.GLRec`, at the face
    input size), and the Partial-LFW test set. Every other field is :class:`PPCLRecipe`'s
    (loss weights, optimiser, PK sampling, validation split); the PPCL variant uses the recipe's
    own (λ_cyc, λ_tri), not the re-ID grid. ``topk``/``fuse_weights`` are unused on faces.
    CRLoc's ``patch_size`` must be the face map size (the GDC takes maps of that size)."""

    backbone: FaceBackboneConfig = FaceBackboneConfig()
    crloc: CRLocConfig = CRLocConfig(patch_size=(7, 7))
    imagenet: bool = False  # the face network is VGG-16 trained from scratch on CASIA-WebFace, as VGGFace was
    epochs: int = 30  # the paper gives no face schedule: the kit's
    p: int = 32
    warmup_epochs: int = 2
    erase: float = 0.0
    n_val_ids: int = 100
    val_queries_per_id: int = 2
    glrec: GLRecRecipe = GLRecRecipe(model=GLRecConfig(input_size=(224, 224)), epochs=10)
    partial_lfw: PartialLFWRecipe = PartialLFWRecipe()
    n_seeds: int = 0  # faces are compared over the profile's first n_seeds seeds (0: all of them)

    def __post_init__(self) -> None:
        if self.imagenet:
            raise refusal("faces.imagenet", "false (the face backbone is trained from scratch on CASIA-WebFace, as "
                          "VGGFace was; the kit has no ImageNet weights for it)", "true", False)
        if tuple(self.crloc.patch_size) != self.backbone.map_size:
            raise refusal("faces.crloc.patch_size", f"the face map size {list(self.backbone.map_size)} (input "
                          f"{list(self.backbone.input_size)} with {self.backbone.pools} pools)",
                          list(self.crloc.patch_size), list(self.backbone.map_size))


@dataclass(frozen=True)
class AblationRecipe:
    """Notebook 04 (§4.3): the λ grid of Table 1c, the ratios of Figure 5 and Table 1b."""

    lam_cyc: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0)  # Table 1c's rows
    lam_tri: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0)  # Table 1c's columns
    choose_lambdas: bool = False  # True: every PPCL model uses Table 1c's cell chosen on validation; False: the recipe's
                                  # own (λ_cyc, λ_tri), the paper's (10, 1), and Table 1c is an ablation
    lambda_rule: str = "clear"  # "clear": the recipe's own cell (the paper's; in the grid) unless another leads it on
                                # validation with its interval above zero; "best": the highest validation rank-1
    ratios: tuple[float, ...] = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)  # Figure 5's query input ratios
    grid_ratios: tuple[float, ...] = (0.2, 0.4, 0.6, 0.8)  # Table 1b's query and gallery ratios
    topk: int = 20  # +R+L re-ranks the top-K of +R on the Market-style sets
    grid_epochs: int = 0  # Table 1c's cells trained for this many epochs (0: the recipe's own schedule)
    n_examples: int = 4  # Figures 6 and 7
    n_seeds: int = 0  # Figure 5, Table 1b, the holistic check and the holistic-F Resize: the first n_seeds seeds (0: all)


@dataclass(frozen=True)
class Profile:
    """Every parameter of a run. ``seed`` seeds GLRec, the figures and the first of the
    ``n_seeds`` training seeds (``seed``, ``seed + 1``, ...) over which methods are compared."""

    seed: int = 0
    n_seeds: int = 3
    source: str = "real"  # "real" (the datasets under data_root) | "synthetic" (generated into the cache)
    synthetic: dict = field(default_factory=lambda: {"preset": "synthetic"})  # a preset and SyntheticConfig fields
    n_show: int = 8  # examples per figure
    train_jobs: int = 1  # trainings side by side on a CPU, the threads shared among them (ppcl.pipeline.jobs); 1: one at a time
    glrec: GLRecRecipe = GLRecRecipe()
    ppcl: PPCLRecipe = PPCLRecipe()
    ablation: AblationRecipe = AblationRecipe()
    faces: FaceRecipe = FaceRecipe()

    def __post_init__(self) -> None:
        if self.source not in ("synthetic", "real"):
            raise refusal("source", "'synthetic' or 'real'", repr(self.source), "real")
        if self.n_seeds < 1:
            raise refusal("n_seeds", "at least 1", self.n_seeds, 3)
        if self.train_jobs < 1:
            raise refusal("train_jobs", "1 (one training at a time) or more side by side", self.train_jobs, 1)
        for key, n in (("faces.n_seeds", self.faces.n_seeds), ("ablation.n_seeds", self.ablation.n_seeds)):
            if not 0 <= n <= self.n_seeds:
                raise refusal(key, f"0 (every seed) to n_seeds = {self.n_seeds}", n, 0)
        for key, recipe in (("glrec", self.glrec), ("ppcl", self.ppcl), ("faces", self.faces), ("faces.glrec", self.faces.glrec)):
            if recipe.workers < 0:
                raise refusal(f"{key}.workers", "0 (load in the main process) or more DataLoader processes", recipe.workers, 0)
        _check_recipes(self)
        if self.source == "synthetic":
            from ..data.sources import synthetic_config

            try:
                synthetic_config(self.synthetic)  # refuses unknown fields and bad values, naming them
            except ValueError as e:
                raise ValueError(f"synthetic: {e} (change the field with --set synthetic.FIELD=VALUE)") from None

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(self.seed + i for i in range(self.n_seeds))

    @property
    def face_seeds(self) -> tuple[int, ...]:
        """The seeds notebook 05 compares faces over: the first ``faces.n_seeds`` (0: all)."""
        return self.seeds[: self.faces.n_seeds or None]

    @property
    def ablation_seeds(self) -> tuple[int, ...]:
        """The seeds of Figure 5, Table 1b, the holistic check and the paper's holistic-F Resize baseline
        (the ``holistic`` variant): the first ``ablation.n_seeds`` (0: all)."""
        return self.seeds[: self.ablation.n_seeds or None]

    def to_dict(self) -> dict:
        return to_dict(self)


def _check_recipes(p: Profile) -> None:
    """Every count, range and choice of the training recipes and the ablation, named by its key."""
    for key, r in (("glrec", p.glrec), ("faces.glrec", p.faces.glrec)):
        for name in ("epochs", "batch_size"):
            if getattr(r, name) < 1:
                raise refusal(f"{key}.{name}", "1 or more", getattr(r, name), getattr(GLRecRecipe(), name))
        _check_area(f"{key}.area", r.area)
        if not 0 <= r.gate_threshold < 1:
            raise refusal(f"{key}.gate_threshold", "0 (chosen on validation) or a threshold in (0, 1)", r.gate_threshold, 0.5)
    for key, r, default in (("ppcl", p.ppcl, PPCLRecipe()), ("faces", p.faces, FaceRecipe())):
        for name in ("epochs", "p", "k", "n_val_ids", "val_queries_per_id"):
            if getattr(r, name) < 1:
                raise refusal(f"{key}.{name}", "1 or more", getattr(r, name), getattr(default, name))
        if r.warmup_epochs < 0:
            raise refusal(f"{key}.warmup_epochs", "0 or more", r.warmup_epochs, 0)
        _check_area(f"{key}.area", r.area)
        _check_sides(f"{key}.sides", r.sides)
        for name in ("view_width", "val_view_width"):
            lo_hi = getattr(r, name)
            if len(lo_hi) != 2 or not 0 < lo_hi[0] <= lo_hi[1] <= 1:
                raise refusal(f"{key}.{name}", "a width fraction range [lo, hi] with 0 < lo <= hi <= 1", list(lo_hi), [0.35, 0.65])
        if r.crloc.locator not in LOCATORS:
            raise refusal(f"{key}.crloc.locator", f"one of {list(LOCATORS)}", repr(r.crloc.locator), "centroid")
        if r.negatives not in NEGATIVES:
            raise refusal(f"{key}.negatives", f"one of {list(NEGATIVES)}", repr(r.negatives), "log-uniform")
    if p.ablation.lambda_rule not in CELL_RULES:
        raise refusal("ablation.lambda_rule", f"one of {list(CELL_RULES)}", repr(p.ablation.lambda_rule), "clear")
    own = (p.ppcl.lam_cyc, p.ppcl.lam_tri)
    for i, name in enumerate(("lam_cyc", "lam_tri")):
        axis = getattr(p.ablation, name)
        if own[i] not in axis:
            raise refusal(f"ablation.{name}", f"a grid holding the recipe's own ppcl.{name} = {own[i]} (the cell the "
                          "others are compared with on validation)", list(axis), sorted({*axis, own[i]}))
    for name in ("ratios", "grid_ratios"):
        ratios = getattr(p.ablation, name)
        if not ratios or not all(0 < x <= 1 for x in ratios):
            raise refusal(f"ablation.{name}", "a non-empty list of visible-area ratios in (0, 1]", list(ratios),
                          list(getattr(AblationRecipe(), name)))


def profiles_text() -> str:
    """The shipped ``profiles.toml``."""
    return resources.files("ppcl.pipeline").joinpath("profiles.toml").read_text()


def raw_profile(name: str, path: str | Path | None = None) -> dict:
    """Profile ``name``'s values as a plain dict (from ``path`` or the shipped file): its base's
    values (``base = "NAME"``, followed to the top) with its own merged over them; the schema's
    defaults fill in the rest when the dict becomes a :class:`Profile`.

    >>> raw_profile("smoke")["ppcl"]["known_pairs"]  # smoke's base, synthetic, sets it
    True
    """
    text = Path(path).read_text() if path else profiles_text()
    profiles = tomllib.loads(text)
    chain: list[str] = []
    while name is not None:
        if name not in profiles:
            where = f" (the base of {chain[-1]!r})" if chain else ""
            raise ValueError(f"profile: expected one of {sorted(profiles)}; found {name!r}{where}")
        if name in chain:
            raise ValueError(f"profile {chain[0]!r}: its bases go round in a circle: {' -> '.join(chain + [name])}")
        chain.append(name)
        name = profiles[name].get("base")
    values: dict = {}
    for n in reversed(chain):
        values = merge(values, {k: v for k, v in profiles[n].items() if k != "base"})
    return values


def load_profile(name: str, overrides: dict | None = None, path: str | Path | None = None) -> Profile:
    """Profile ``name`` with ``overrides`` (nested dicts, dotted-key semantics) merged in and
    validated against the schema; a misspelt key raises ``ValueError`` naming the valid fields."""
    return from_dict(Profile, merge(raw_profile(name, path), overrides or {}))
