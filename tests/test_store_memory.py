"""The stores at scale (ppcl.data.stores): the decoded store peaks at about its final size, the
encoded store keeps only the files' bytes and gives the decoded store's batches up to the resize,
"auto" picks the encoded store when the decoded one would not fit, and evaluation images decoded
by threads are bit for bit the sequential ones."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ppcl.data import stores
from ppcl.data.common import DatasetError, Record, read_image
from ppcl.data.datasets import EncodedStore, ImageStore, TrainBatches
from ppcl.data.samplers import PKSampler
from ppcl.data.transforms import Augmentation
from ppcl.evaluate.engine import load_images, pil_to_tensor

ROOT = Path(__file__).resolve().parents[1]


def _files(folder: Path, n: int, size=(40, 20), suffixes=(".jpg", ".png"), seed=0) -> list[str]:
    """``n`` random smooth images (a random 8 x 4 field upsampled, plus noise), JPEG and PNG in turn."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        low = Image.fromarray(rng.integers(0, 256, (8, 4, 3), dtype=np.uint8)).resize(size[::-1], Image.BICUBIC)
        a = np.clip(np.asarray(low, dtype=np.int16) + rng.integers(-20, 21, (*size, 3)), 0, 255).astype(np.uint8)
        path = folder / f"{i:05d}{suffixes[i % len(suffixes)]}"
        Image.fromarray(a).save(path, quality=90)
        paths.append(str(path))
    return paths


def _records(paths: list[str], n: int, per_id: int = 4) -> list[Record]:
    """``n`` records cycling through ``paths``, ``per_id`` consecutive records per identity."""
    return [Record(paths[i % len(paths)], i // per_id, None) for i in range(n)]


PROBE = """
import json, resource, sys
import psutil, torch
from ppcl.data.common import Record
from ppcl.data.datasets import ImageStore


def peak():  # the high-water mark of this process's RSS (Linux: VmHWM, which clear_refs resets)
    try:
        return next(int(ln.split()[1]) for ln in open("/proc/self/status") if ln.startswith("VmHWM:")) * 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


kind, size, threads = sys.argv[1], (int(sys.argv[2]), int(sys.argv[3])), int(sys.argv[4])
records = [Record(p, i, None) for i, p in enumerate(json.load(open(sys.argv[5])))]
ImageStore.from_records(records[:2], size, threads=threads, kind=kind)  # every import and pool warmed up
try:  # forget the imports' transient peak: the high-water mark reset to the current RSS
    open("/proc/self/clear_refs", "w").write("5")
except OSError:
    pass
rss = psutil.Process().memory_info().rss
store = ImageStore.from_records(records, size, threads=threads, kind=kind)
print(json.dumps({"peak": peak() - rss, "nbytes": store.nbytes, "type": type(store).__name__}))
"""


def _probe(tmp_path: Path, kind: str, paths: list[str], size: tuple[int, int]) -> dict:
    """Build a store in a fresh process: its peak RSS above the RSS just before it, and its size."""
    listing = tmp_path / "paths.json"
    listing.write_text(json.dumps(paths))
    done = subprocess.run([sys.executable, "-c", PROBE, kind, str(size[0]), str(size[1]), "2", str(listing)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def many(tmp_path_factory) -> list[str]:
    """3,000 records over 150 small JPEG files: 230 MB decoded at 160 x 160, 0.2 % of that encoded."""
    files = _files(tmp_path_factory.mktemp("many"), 150, size=(48, 48), suffixes=(".jpg",))
    return [files[i % len(files)] for i in range(3000)]


def test_the_decoded_store_peaks_at_about_its_final_size(tmp_path, many):
    got = _probe(tmp_path, "decoded", many, (160, 160))
    assert got["type"] == "ImageStore" and got["nbytes"] == 3000 * 3 * 160 * 160
    mib = {k: got[k] / 2**20 for k in ("peak", "nbytes")}
    assert got["peak"] <= 1.25 * got["nbytes"], f"peak {mib['peak']:.0f} MiB for a {mib['nbytes']:.0f} MiB store"


def test_the_encoded_store_holds_only_the_files_bytes(tmp_path, many):
    got = _probe(tmp_path, "encoded", many, (160, 160))
    file_bytes = sum(Path(p).stat().st_size for p in many)
    assert got["type"] == "EncodedStore" and got["nbytes"] == file_bytes + 8 * (len(many) + 1)
    assert got["peak"] <= 0.1 * 3000 * 3 * 160 * 160, f"peak {got['peak'] / 2**20:.0f} MiB"  # nothing decoded held
    store = EncodedStore.from_records(_records(many[:5], 5), (16, 16))
    assert store.data.numpy().tobytes() == b"".join(Path(p).read_bytes() for p in many[:5])
    assert store.file_bytes(3).numpy().tobytes() == Path(many[3]).read_bytes()


def _epoch(store, epoch=1, seed=3):
    sampler = PKSampler(store.pids.tolist(), 3, 2, seed=seed)
    batches = TrainBatches(store, sampler, Augmentation(erase=0.5), "cpu", seed=seed)
    batches.set_epoch(epoch)
    return list(batches), batches.generator.get_state()


def test_the_encoded_store_gives_the_decoded_stores_batches_up_to_the_resize(tmp_path):
    recs = _records(_files(tmp_path, 24), 24, per_id=4)
    decoded = ImageStore.from_records(recs, (32, 16), kind="decoded")
    encoded = ImageStore.from_records(recs, (32, 16), kind="encoded", threads=3)
    assert isinstance(decoded, ImageStore) and isinstance(encoded, EncodedStore)
    assert len(encoded) == len(decoded) and encoded.size == decoded.size and torch.equal(encoded.pids, decoded.pids)
    every = torch.arange(len(recs))
    a, b = decoded.gather(every, torch.device("cpu")), encoded.gather(every, torch.device("cpu"))
    assert a.shape == b.shape and b.dtype == torch.uint8
    diff = (a.int() - b.int()).abs()
    assert diff.max() <= 2 and diff.float().mean() < 0.2  # torch's resize, not PIL's: a grey level or two
    one = EncodedStore(encoded.data, encoded.offsets, encoded.paths, encoded.pids, (32, 16), threads=1)
    assert torch.equal(one.gather(every.flip(0), torch.device("cpu")), b.flip(0))  # any thread count, any order
    (xa, state_a), (xb, state_b) = _epoch(decoded), _epoch(encoded)
    assert len(xa) == len(xb) > 1 and torch.equal(state_a, state_b)  # the same augmentation draws
    for (x, pa), (y, pb) in zip(xa, xb):
        assert torch.equal(pa, pb) and x.shape == y.shape and x.dtype == y.dtype
        assert (x - y).abs().max() <= 2.01 / 255 / min(Augmentation().std)  # same flips, crops and erasures
    resumed, _ = _epoch(ImageStore.from_records(recs, (32, 16), kind="encoded"))
    assert all(torch.equal(x, y) for (x, _), (y, _) in zip(xb, resumed))


def test_auto_decodes_what_fits_the_hosts_share_and_keeps_the_bytes_of_what_does_not(tmp_path, monkeypatch):
    recs = _records(_files(tmp_path, 4), 8)
    monkeypatch.setattr(stores.psutil, "virtual_memory", lambda: type("M", (), {"available": 8 * 3 * 32 * 16 * 4})())
    monkeypatch.setattr(stores, "HOST_SHARE", 0.25)  # exactly the decoded size: decoded
    assert isinstance(ImageStore.from_records(recs, (32, 16)), ImageStore)
    monkeypatch.setattr(stores, "HOST_SHARE", 0.24)  # one share less: encoded
    assert isinstance(ImageStore.from_records(recs, (32, 16)), EncodedStore)
    assert isinstance(ImageStore.from_records(recs, (32, 16), kind="decoded"), ImageStore)
    with pytest.raises(ValueError, match="^kind: the decoded store of 8 images at 64x64 needs"):
        ImageStore.from_records(recs, (64, 64), kind="decoded")  # more than the host has
    with pytest.raises(ValueError, match=r"^kind: expected one of \('auto', 'decoded', 'encoded'\); found 'jpeg'"):
        ImageStore.from_records(recs, (32, 16), kind="jpeg")


def test_unreadable_files_raise_naming_the_path(tmp_path):
    good = _files(tmp_path, 2)
    bad = tmp_path / "0000045" / "001.jpg"
    bad.parent.mkdir()
    bad.write_bytes(b"\xff\xd8\xff not a jpeg after all")
    store = EncodedStore.from_records(_records([*good, str(bad)], 3), (16, 8))
    with pytest.raises(DatasetError) as got:
        store.gather(torch.arange(3), torch.device("cpu"))
    with pytest.raises(DatasetError) as want:
        read_image(str(bad))
    assert str(got.value) == str(want.value) and str(bad) in str(got.value)
    with pytest.raises(DatasetError, match="^.*missing.jpg: expected an image file; found no such file"):
        EncodedStore.from_records(_records([*good, str(tmp_path / "missing.jpg")], 3), (16, 8))


def test_bad_store_arguments_are_refused_naming_them(tmp_path):
    recs = _records(_files(tmp_path, 2), 2)
    store = EncodedStore.from_records(recs, (16, 8))
    n = len(store.data)
    with pytest.raises(ValueError, match=f"^offsets: expected 3 non-decreasing offsets from 0 to {n}; found 2 from 0"):
        EncodedStore(store.data, store.offsets[:2], store.paths, store.pids, (16, 8))
    with pytest.raises(ValueError, match=r"^offsets: expected 3 .*found 3 from 0 to \d+ \(decreasing somewhere\)"):
        EncodedStore(store.data, np.array([0, n + 1, n]), store.paths, store.pids, (16, 8))
    with pytest.raises(ValueError, match="^data: expected a 1-D uint8 host tensor"):
        EncodedStore(store.data.view(1, -1), store.offsets, store.paths, store.pids, (16, 8))
    with pytest.raises(ValueError, match=r"^pids: expected one label per image \(2,\)"):
        EncodedStore(store.data, store.offsets, store.paths, store.pids[:1], (16, 8))
    with pytest.raises(ValueError, match=r"^size: expected a positive \(height, width\); found \(0, 8\)"):
        EncodedStore(store.data, store.offsets, store.paths, store.pids, (0, 8))
    with pytest.raises(ValueError, match=r"^out: expected a uint8 host tensor \(2, 3, 16, 8\)"):
        stores.decode_into(torch.empty(2, 16, 8, 3, dtype=torch.uint8), recs, (16, 8))
    with pytest.raises(ValueError, match="^records: expected at least one training image"):
        ImageStore.from_records([], (16, 8), kind="encoded")


@pytest.mark.parametrize("mode", ["resize", "pad"])
def test_threaded_evaluation_images_are_the_sequential_ones_bit_for_bit(tmp_path, mode):
    recs = _records(_files(tmp_path, 10, size=(50, 30)), 10)
    one_by_one = torch.stack([pil_to_tensor(read_image(r.path), (32, 16), mode) for r in recs])
    assert torch.equal(load_images(recs, (32, 16), mode, threads=3), one_by_one)
    assert torch.equal(load_images(recs, (32, 16), mode, threads=1), one_by_one)
    broken = [*recs[:6], Record(str(tmp_path / "gone.png"), 0), *recs[6:], Record(str(tmp_path / "later.png"), 0)]
    with pytest.raises(DatasetError, match="gone.png: expected an image file; found no such file"):
        load_images(broken, (32, 16), mode, threads=3)  # the first bad file in order, as a loop would raise


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_a_gpu_the_encoded_store_decodes_there_close_to_the_cpu(tmp_path):
    recs = _records(_files(tmp_path, 12), 12)  # JPEGs decoded by nvjpeg, PNGs by PIL
    store = ImageStore.from_records(recs, (32, 16), kind="encoded")
    every = torch.arange(len(recs))
    gpu, cpu = store.gather(every, torch.device("cuda")), store.gather(every, torch.device("cpu"))
    assert gpu.device.type == "cuda" and gpu.shape == cpu.shape and gpu.dtype == torch.uint8
    diff = (gpu.cpu().int() - cpu.int()).abs()
    assert diff.float().mean() < 2 and torch.equal(diff[1::2].max(), diff[1::2].max().clamp(max=1))  # PNGs: resize only
