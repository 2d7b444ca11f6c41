"""Training-image stores: every training image held in memory once, gathered by index per batch.

Two kinds, one interface (``pids``, ``size``, ``device``, ``len``, ``gather(index, device)`` ->
uint8 ``(B, 3, H, W)`` on the training device), so :class:`ppcl.data.datasets.TrainBatches` draws
the same batches and the same augmentation from either:

* :class:`ImageStore` — *decoded*: one preallocated ``(N, 3, H, W)`` uint8 tensor, each image
  read, resized to the input size as ``T.Resize`` resizes a PIL image (the pixels of the
  per-image pipeline) and written into its slot by a pool of threads, so building it peaks at
  about its final size (no ``(N, H, W, 3)`` array, no permuted copy). It goes on the training GPU
  when it needs at most :data:`DEVICE_SHARE` of the free memory, else it stays in host memory.
* :class:`EncodedStore` — *encoded*: each file's bytes as they are on disk (JPEGs: a tenth of the
  decoded size or less), decoded and resized when a batch is gathered (on a GPU with
  ``torchvision.io.decode_jpeg``; on the CPU by threads). For sets whose decoded size would not
  fit the host (CASIA-WebFace at 224 x 224 is 69 GiB decoded).

:meth:`ImageStore.from_records` picks the kind (``kind="auto"``): decoded when the decoded size
is at most :data:`HOST_SHARE` of the host's available memory, else encoded.
"""
from __future__ import annotations

import io
import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import psutil
import torch
import torchvision.transforms.functional as TF
import torchvision.transforms.v2.functional as TF2
from torch import Tensor
from torchvision.io import ImageReadMode, decode_jpeg
from tqdm.auto import tqdm

from .common import DatasetError, Record, read_image

DEVICE_SHARE = 0.5  # the decoded store goes on a GPU when it needs at most this share of the free memory
HOST_SHARE = 0.5  # "auto" decodes the store when it needs at most this share of the host's available memory
KINDS = ("auto", "decoded", "encoded")
JPEG_MAGIC = b"\xff\xd8\xff"


def default_threads() -> int:
    """The CPUs this process may use, at most 16."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(16, cpus))


def run_threads(fn: Callable[[int], None], n: int, threads: int | None = None, progress: bool = False,
                desc: str = "") -> None:
    """``fn(i)`` for every ``i < n`` in ``threads`` threads (default :func:`default_threads`), in
    chunks of consecutive indices (a few thousand futures at most, whatever ``n``). The error of the
    lowest failing index is raised, as a loop would raise it, and the work not yet started is
    cancelled."""
    workers = max(1, threads or default_threads())
    chunk = max(1, min(64, math.ceil(n / (4 * workers))))
    starts = range(0, n, chunk)

    def part(s: int) -> int:
        for i in range(s, min(n, s + chunk)):
            fn(i)
        return min(n, s + chunk) - s

    bar = tqdm(total=n, desc=desc, leave=False, disable=not progress)
    pool = ThreadPoolExecutor(workers)
    try:
        for done in pool.map(part, starts):
            bar.update(done)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()


def decoded_nbytes(n: int, size: tuple[int, int]) -> int:
    """Bytes of ``n`` decoded uint8 RGB images at ``size`` (H, W)."""
    return n * 3 * size[0] * size[1]


def choose_kind(n: int, size: tuple[int, int], kind: str = "auto") -> str:
    """``"decoded"`` or ``"encoded"``: ``kind`` itself unless it is ``"auto"``, which decodes when
    the decoded store needs at most :data:`HOST_SHARE` of the host's available memory."""
    if kind not in KINDS:
        raise ValueError(f"kind: expected one of {KINDS}; found {kind!r}")
    if kind != "auto":
        return kind
    return "decoded" if decoded_nbytes(n, size) <= HOST_SHARE * psutil.virtual_memory().available else "encoded"


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    h, w = size
    if h < 1 or w < 1:
        raise ValueError(f"size: expected a positive (height, width); found {tuple(size)}")
    return int(h), int(w)


# ---- the decoded store ------------------------------------------------------------------------
def decode(path: str, size: tuple[int, int]) -> np.ndarray:
    """One image file as ``(H, W, 3)`` uint8 at ``size`` (H, W), resized as ``T.Resize(size)``
    resizes a PIL image (bilinear, PIL's antialiasing)."""
    return np.asarray(TF.resize(read_image(path), list(size)))


def decode_into(out: Tensor, records: Sequence[Record], size: tuple[int, int], threads: int | None = None,
                progress: bool = False) -> Tensor:
    """Fill ``out`` ``(N, 3, H, W)`` uint8 (host memory) with every record's image at ``size``:
    each thread decodes an image and writes it into its own slot, so nothing else as large as
    ``out`` is ever allocated and the result does not depend on the thread count."""
    if len(records) == 0:
        raise ValueError("records: expected at least one training image; found none")
    h, w = _check_size(size)
    if out.shape != (len(records), 3, h, w) or out.dtype != torch.uint8 or out.device.type != "cpu":
        raise ValueError(f"out: expected a uint8 host tensor {(len(records), 3, h, w)}; "
                         f"found {out.dtype} {tuple(out.shape)} on {out.device}")
    slots = out.numpy()

    def one(i: int) -> None:
        slots[i] = decode(records[i].path, (h, w)).transpose(2, 0, 1)

    run_threads(one, len(records), threads, progress, "decode images")
    return out


def decode_all(records: Sequence[Record], size: tuple[int, int], threads: int | None = None,
               progress: bool = False) -> Tensor:
    """Every record's image at ``size``: ``(N, 3, H, W)`` uint8 on the CPU (:func:`decode_into`
    a preallocated tensor; threads default to the CPUs this process may use, at most 16)."""
    if len(records) == 0:
        raise ValueError("records: expected at least one training image; found none")
    h, w = _check_size(size)
    return decode_into(torch.empty((len(records), 3, h, w), dtype=torch.uint8), records, (h, w), threads, progress)


def place(images: Tensor, device: torch.device, share: float = DEVICE_SHARE) -> Tensor:
    """``images`` where batches are cheapest to draw from: on ``device`` if it is a GPU with at
    least ``images.nbytes / share`` bytes free, else where they are (host memory, not copied).

    The host store is not pinned: torch's pinned allocator would copy it and round the allocation
    up to a power of two (a 40 GiB store would lock 64 GiB), and a batch is gathered into a new
    tensor anyway; :meth:`ImageStore.gather` gathers it straight into pinned memory instead, so
    its copy to the GPU still runs asynchronously."""
    device = torch.device(device)
    if device.type != "cuda":
        return images.to(device)
    free, _ = torch.cuda.mem_get_info(device)
    return images.to(device) if images.nbytes <= share * free else images


def _pinned_like(shape: tuple[int, ...]) -> Tensor:
    """An empty uint8 host tensor, pinned where the host allows it."""
    try:
        return torch.empty(shape, dtype=torch.uint8, pin_memory=True)
    except RuntimeError:
        return torch.empty(shape, dtype=torch.uint8)


@dataclass
class ImageStore:
    """Decoded training images ``(N, 3, H, W)`` uint8 and their identity labels ``(N,)``."""

    images: Tensor
    pids: Tensor

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4 or self.images.shape[1] != 3:
            raise ValueError(f"images: expected uint8 (N, 3, H, W); found {self.images.dtype} {tuple(self.images.shape)}")
        if self.pids.shape != (len(self.images),):
            raise ValueError(f"pids: expected one label per image ({len(self.images)},); found {tuple(self.pids.shape)}")

    @classmethod
    def from_records(cls, records: Sequence[Record], size: tuple[int, int], device: torch.device | str = "cpu",
                     progress: bool = False, threads: int | None = None,
                     kind: str = "auto") -> "ImageStore | EncodedStore":
        """The store of ``records`` at ``size`` for training on ``device``.

        ``kind`` (:func:`choose_kind`): ``"decoded"`` decodes them once into a preallocated tensor
        (:func:`decode_into`, peak host memory about its final size) and places it for ``device``
        (:func:`place`); ``"encoded"`` keeps the files' bytes (:class:`EncodedStore`, whose pixels
        differ slightly: torch's resize, not PIL's); ``"auto"`` decodes when that needs at most
        :data:`HOST_SHARE` of the host's available memory."""
        if len(records) == 0:
            raise ValueError("records: expected at least one training image; found none")
        h, w = _check_size(size)
        pids = torch.tensor([r.pid for r in records], dtype=torch.int64)
        if choose_kind(len(records), (h, w), kind) == "encoded":
            return EncodedStore.from_records(records, (h, w), progress=progress, threads=threads)
        need, available = decoded_nbytes(len(records), (h, w)), psutil.virtual_memory().available
        if need > available:
            raise ValueError(f"kind: the decoded store of {len(records)} images at {h}x{w} needs {need / 2**30:.1f} "
                             f"GiB; the host has {available / 2**30:.1f} GiB available (use kind='encoded')")
        images = torch.empty((len(records), 3, h, w), dtype=torch.uint8)
        decode_into(images, records, (h, w), threads, progress)
        return cls(place(images, torch.device(device)), pids)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.images.shape[-2:])

    @property
    def device(self) -> torch.device:
        """Where the images are, and where :meth:`gather` wants its indices."""
        return self.images.device

    @property
    def nbytes(self) -> int:
        return self.images.nbytes

    def gather(self, index: Tensor, device: torch.device) -> Tensor:
        """The uint8 images ``index`` ``(B,)`` on ``device``: ``(B, 3, H, W)``. From host memory to
        a GPU the batch is gathered into pinned memory and copied without waiting."""
        index = index.to(self.images.device)
        if self.images.device == device:
            return self.images[index]
        if device.type == "cuda" and self.images.device.type == "cpu":
            x = torch.index_select(self.images, 0, index, out=_pinned_like((len(index), *self.images.shape[1:])))
            return x.to(device, non_blocking=x.is_pinned())
        return self.images[index].to(device)


# ---- the encoded store ------------------------------------------------------------------------
def _file_size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        raise DatasetError(path, "an image file", "no such file") from None
    except OSError as e:
        raise DatasetError(path, "a readable image file", f"an unreadable file ({e})") from None


def read_bytes(paths: Sequence[str], threads: int | None = None, progress: bool = False) -> tuple[Tensor, np.ndarray]:
    """Every file of ``paths`` as it is on disk, end to end in one uint8 tensor ``(total,)``, and
    the offsets ``(N + 1,)`` int64 of each file's bytes in it (file ``i`` is ``[o[i], o[i+1])``).
    The sizes are read first, so the tensor is allocated once at its final size and each thread
    reads its files into their slots."""
    sizes = np.zeros(len(paths), dtype=np.int64)

    def stat(i: int) -> None:
        sizes[i] = _file_size(paths[i])

    run_threads(stat, len(paths), threads, progress, "list image files")
    offsets = np.zeros(len(paths) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    available = psutil.virtual_memory().available
    if offsets[-1] > available:
        raise ValueError(f"paths: the {len(paths)} image files hold {offsets[-1] / 2**30:.1f} GiB; the host has "
                         f"{available / 2**30:.1f} GiB available")
    data = torch.empty(int(offsets[-1]), dtype=torch.uint8)
    view = memoryview(data.numpy())

    def read(i: int) -> None:
        try:
            with open(paths[i], "rb") as f:
                got = f.readinto(view[offsets[i] : offsets[i + 1]])
                more = f.read(1)
        except OSError as e:
            raise DatasetError(paths[i], "a readable image file", f"an unreadable file ({e})") from None
        if got != sizes[i] or more:
            raise DatasetError(paths[i], f"{sizes[i]} bytes (its size when listed)", "a file that changed while read")

    run_threads(read, len(paths), threads, progress, "read image files")
    return data, offsets


class EncodedStore:
    """Training images kept as their files' bytes (``data`` ``(total,)`` uint8, file ``i`` at
    ``offsets[i]:offsets[i+1]``) with their labels ``pids`` ``(N,)``, decoded per batch.

    :meth:`gather` decodes the batch's files and resizes them to ``size`` with torch (bilinear,
    antialiased) on the training device: on a GPU, JPEGs by ``torchvision.io.decode_jpeg`` there
    and anything else (or a batch the GPU decoder refuses) by PIL on the CPU; on the CPU by PIL in
    ``threads`` threads, each image into its own slot (the result does not depend on the thread
    count). Its pixels differ slightly from :class:`ImageStore`'s: torch's resize is not PIL's (a
    grey level or two apart), and a GPU's JPEG decoder is not libjpeg's. A file that cannot
    be decoded raises :class:`ppcl.data.common.DatasetError` naming its path."""

    def __init__(self, data: Tensor, offsets: np.ndarray, paths: Sequence[str], pids: Tensor, size: tuple[int, int],
                 threads: int | None = None):
        if data.dtype != torch.uint8 or data.ndim != 1 or data.device.type != "cpu":
            raise ValueError(f"data: expected a 1-D uint8 host tensor; found {data.dtype} {tuple(data.shape)} "
                             f"on {data.device}")
        offsets = np.asarray(offsets, dtype=np.int64)
        if (offsets.shape != (len(paths) + 1,) or offsets[0] != 0 or offsets[-1] != len(data)
                or np.any(np.diff(offsets) < 0)):
            ends = f"from {offsets[0]} to {offsets[-1]}" if offsets.size else "none"
            raise ValueError(f"offsets: expected {len(paths) + 1} non-decreasing offsets from 0 to {len(data)}; "
                             f"found {offsets.size} {ends}{' (decreasing somewhere)' if offsets.size > 1 else ''}")
        if pids.shape != (len(paths),):
            raise ValueError(f"pids: expected one label per image ({len(paths)},); found {tuple(pids.shape)}")
        self.data, self.offsets, self.paths, self.pids = data, offsets, list(paths), pids
        self.threads, self._size = threads, _check_size(size)

    @classmethod
    def from_records(cls, records: Sequence[Record], size: tuple[int, int], progress: bool = False,
                     threads: int | None = None) -> "EncodedStore":
        """Read every record's file into memory (:func:`read_bytes`); nothing is decoded yet."""
        if len(records) == 0:
            raise ValueError("records: expected at least one training image; found none")
        paths = [r.path for r in records]
        data, offsets = read_bytes(paths, threads, progress)
        return cls(data, offsets, paths, torch.tensor([r.pid for r in records], dtype=torch.int64), size, threads)

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def size(self) -> tuple[int, int]:
        return self._size

    @property
    def device(self) -> torch.device:
        """Where :meth:`gather` wants its indices: the bytes are in host memory."""
        return torch.device("cpu")

    @property
    def nbytes(self) -> int:
        """Bytes held: the files' bytes and their offsets."""
        return self.data.nbytes + self.offsets.nbytes

    def file_bytes(self, i: int) -> Tensor:
        """File ``i``'s bytes ``(n,)`` uint8 (a view of :attr:`data`)."""
        return self.data[int(self.offsets[i]) : int(self.offsets[i + 1])]

    def decode_cpu(self, i: int) -> Tensor:
        """File ``i`` decoded by PIL as :func:`ppcl.data.common.read_image` decodes a file (RGB):
        ``(3, h, w)`` uint8 at its own size; an undecodable file raises naming its path."""
        buf = io.BytesIO(self.file_bytes(i).numpy())
        path = self.paths[i]
        try:
            return TF.pil_to_tensor(read_image(buf))
        except DatasetError as e:
            raise DatasetError(path, e.expected, e.found.replace(repr(buf), repr(path))) from None
        except Exception as e:  # noqa: BLE001 - PIL raises SyntaxError, ValueError ... on broken files
            found = f"an unreadable file ({type(e).__name__}: {e})"
            raise DatasetError(path, "a readable JPEG/PNG image", found) from None

    def gather(self, index: Tensor, device: torch.device) -> Tensor:
        """The images ``index`` ``(B,)`` decoded and resized to :attr:`size` on ``device``:
        ``(B, 3, H, W)`` uint8."""
        device = torch.device(device)
        idx = [int(i) for i in index.tolist()]
        if device.type == "cuda":
            return self._gather_cuda(idx, device)
        out = torch.empty((len(idx), 3, *self.size), dtype=torch.uint8)

        def one(j: int) -> None:
            out[j] = TF2.resize(self.decode_cpu(idx[j]), list(self.size), antialias=True)

        run_threads(one, len(idx), self.threads)
        return out.to(device)

    def _gather_cuda(self, idx: list[int], device: torch.device) -> Tensor:
        imgs: list[Tensor | None] = [None] * len(idx)
        raw = self.data.numpy()
        jpegs = [j for j, i in enumerate(idx) if raw[self.offsets[i] : self.offsets[i] + 3].tobytes() == JPEG_MAGIC]
        if jpegs:
            try:
                decoded = decode_jpeg([self.file_bytes(idx[j]) for j in jpegs], mode=ImageReadMode.RGB, device=device)
                for j, x in zip(jpegs, decoded):
                    imgs[j] = x
            except RuntimeError:  # decoded on the CPU below, which names a file it cannot read
                pass
        rest = [j for j, x in enumerate(imgs) if x is None]
        cpu: list[Tensor | None] = [None] * len(rest)

        def one(k: int) -> None:
            cpu[k] = self.decode_cpu(idx[rest[k]])

        run_threads(one, len(rest), self.threads)
        for j, x in zip(rest, cpu):
            imgs[j] = x.to(device)
        return resize_batch(imgs, self.size, device)


def resize_batch(images: Sequence[Tensor], size: tuple[int, int], device: torch.device) -> Tensor:
    """``(B, 3, H, W)`` uint8 on ``device`` from images ``(3, h_i, w_i)`` uint8 of any sizes, each
    resized to ``size`` with torch (bilinear, antialiased); images of one size are resized together."""
    out = torch.empty((len(images), 3, *size), dtype=torch.uint8, device=device)
    groups: dict[tuple[int, ...], list[int]] = {}
    for j, x in enumerate(images):
        groups.setdefault(tuple(x.shape), []).append(j)
    for js in groups.values():
        batch = torch.stack([images[j] for j in js])
        out[torch.tensor(js, device=device)] = TF2.resize(batch, list(size), antialias=True)
    return out


STORES = (ImageStore, EncodedStore)
