"""Notebook 06 served as a web page by Voilà and used in a real (headless) Chromium.

Voilà runs the notebook under the smoke profile on a free loopback port; Chromium (Debian's
``/usr/bin/chromium``, driven by Playwright's Python API; Playwright never downloads a browser
here) opens the page, every request to a host other than the loopback is aborted, and the test
picks other queries in the picker until the true-match marks change, checking that the pictures
changed with them. A screenshot of the viewer goes to ``$PPCL_OUT/viewer.png`` (and
``/tmp/viewer_screenshot.png``). Voilà and its kernels are ended whatever happens.

A second test opens a user's own images the way ``make viewer GALLERY=... QUERY=... CHECKPOINT=...``
does (``$PPCL_GALLERY_FOLDER``, ``$PPCL_QUERY_IMAGE``, ``$PPCL_CHECKPOINT``): a folder of images
and a checkpoint written here, no kit data; the page shows the ranked list without true-match
marks, and toggling the heatmap redraws the pair panel through the live kernel.

Chromium: when ``/usr/bin/chromium`` is missing the test installs Debian's package (as root,
with ``apt-get``); where that is impossible it is skipped, unless ``PPCL_REQUIRE_BROWSER=1``
(CI), which makes a missing browser a failure.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import contextlib

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "06_correspondence_viewer.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
FIRST_RENDER_S = 60  # Voilà runs the whole notebook before the page shows the viewer
STEP_S = 30  # one change of query: a kernel round trip and three pictures


def ensure_chromium() -> Path:
    """``/usr/bin/chromium``, installing Debian's package when it is missing (root and apt-get only)."""
    if CHROMIUM.is_file():
        return CHROMIUM
    why = None
    if shutil.which("apt-get") is None:
        why = "apt-get is not available"
    elif os.geteuid() != 0:
        why = "installing it needs root"
    else:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"]
        if subprocess.run(install, env=env, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True)
            r = subprocess.run(install, env=env, capture_output=True, text=True)
            if r.returncode != 0:
                why = f"apt-get install chromium failed: {r.stderr.strip()[-300:]}"
    if CHROMIUM.is_file():
        return CHROMIUM
    msg = f"{CHROMIUM}: expected Debian's chromium; found none ({why or 'the package did not provide it'})"
    if os.environ.get("PPCL_REQUIRE_BROWSER") == "1":
        pytest.fail(msg)
    pytest.skip(msg)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    """Until the port accepts TCP connections (a GET would start a kernel: not used)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"Voilà exited with {proc.returncode} before listening:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"Voilà did not listen on 127.0.0.1:{port} within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    """End Voilà (started here, in its own session) and the kernels it started, by their ids."""
    try:
        import psutil

        family = psutil.Process(proc.pid).children(recursive=True)
    except Exception:  # psutil missing or Voilà already gone
        family = []
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # Voilà shuts its kernels down on SIGTERM
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    for child in family:
        try:
            child.kill()
        except Exception:
            pass


@pytest.fixture()
def chromium() -> Path:
    return ensure_chromium()


VIEWER_VARIABLES = ("PPCL_RUN_FOLDER", "PPCL_GALLERY_FOLDER", "PPCL_QUERY_IMAGE", "PPCL_CHECKPOINT")


@contextlib.contextmanager
def serve(tmp_path: Path, out: Path, **variables: str):
    """``(url, out, log)`` of notebook 06 served by Voilà under the smoke profile, with the viewer's
    environment ``variables`` (every other viewer variable unset)."""
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = tmp_path / "voila.log"
    env = {k: v for k, v in os.environ.items() if k not in VIEWER_VARIABLES}
    env.update({"PPCL_PROFILE": "smoke", "PPCL_OUT": str(out), "PYTHONUNBUFFERED": "1", **variables})
    cmd = [sys.executable, "-m", "voila", str(NOTEBOOK), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
           "--Voila.port_retries=0", "--show_tracebacks=True"]
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port(port, proc, log)
        yield f"http://127.0.0.1:{port}/", out, log
    finally:
        stop(proc)


@pytest.fixture()
def voila(chromium, tmp_path):
    """``(url, run folder, log)`` of notebook 06 served by Voilà under the smoke profile."""
    with serve(tmp_path, Path(os.environ.get("PPCL_OUT") or tmp_path / "run")) as served:
        yield served


def state(page) -> dict:
    return page.eval_on_selector(".ppcl-viewer-state", "e => Object.assign({}, e.dataset)")


def image_sources(page) -> dict:
    return {k: page.get_attribute(f"img.ppcl-panel-{k}", "src") for k in ("query", "results", "pair")}


@contextlib.contextmanager
def browser_page(chromium: Path, tmp_path: Path, blocked: list):
    """A headless Chromium page whose requests to hosts other than the loopback are aborted (listed in ``blocked``)."""
    from playwright.sync_api import sync_playwright

    def only_loopback(route):
        if (urlparse(route.request.url).hostname or "") in LOOPBACK:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(str(tmp_path / "chromium-profile"), executable_path=str(chromium),
                                                       headless=True, args=CHROMIUM_ARGS,
                                                       viewport={"width": 1280, "height": 1000})
        try:
            context.route("**/*", only_loopback)
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def open_viewer(page, url: str, failed_shot: Path, log: Path) -> None:
    """Open the viewer at ``url`` and wait until its three panels hold pictures; on a timeout, a
    screenshot at ``failed_shot`` and an error quoting Voilà's log."""
    page.goto(url, wait_until="commit", timeout=FIRST_RENDER_S * 1000)
    try:
        page.wait_for_selector(".ppcl-viewer-state", timeout=FIRST_RENDER_S * 1000)
        page.wait_for_function("() => ['query', 'results', 'pair'].every(k => "
                               "document.querySelector('img.ppcl-panel-' + k)?.getAttribute('src'))",
                               timeout=STEP_S * 1000)
    except Exception as e:
        page.screenshot(path=str(failed_shot), full_page=True)
        raise AssertionError(f"the viewer did not render within {FIRST_RENDER_S} s ({e}); Voilà's log:\n"
                             f"{log.read_text()[-3000:]}") from None


def test_the_viewer_page_in_a_real_browser(chromium, voila, tmp_path):
    url, out, log = voila
    blocked: list[str] = []
    t0 = time.monotonic()
    with browser_page(chromium, tmp_path, blocked) as page:
        open_viewer(page, url, out / "viewer_failed.png", log)
        first_render = time.monotonic() - t0
        start, start_src = state(page), image_sources(page)
        assert start["dataset"] == "partial_reid" and start["direction"] == "query" and start["query"] == "0"
        labels = page.eval_on_selector_all(".ppcl-query select option", "els => els.map(e => e.textContent)")
        assert len(labels) > 2 and start["queryName"] == labels[0]
        changed = None
        for i in range(1, len(labels)):
            before = image_sources(page)
            page.select_option(".ppcl-query select", label=labels[i])
            page.wait_for_function("q => document.querySelector('.ppcl-viewer-state')?.dataset.query === q",
                                   arg=str(i), timeout=STEP_S * 1000)
            page.wait_for_function("old => document.querySelector('img.ppcl-panel-results').src !== old",
                                   arg=before["results"], timeout=STEP_S * 1000)
            now, src = state(page), image_sources(page)
            assert now["queryName"] == labels[i]
            assert src["query"] != before["query"] and src["results"] != before["results"]  # new pictures
            if now["true"] != start["true"]:
                changed = (i, now, src)
                break
        assert changed is not None, f"no query changed the true-match marks of the first ({start['true']})"
        i, now, src = changed
        assert src != start_src and now["shown"] != start["shown"]
        shot = out / "viewer.png"
        page.locator(".ppcl-viewer").screenshot(path=str(shot))
        shutil.copyfile(shot, "/tmp/viewer_screenshot.png")
    total = time.monotonic() - t0
    assert all(urlparse(u).hostname not in LOOPBACK for u in blocked)
    print(f"first render {first_render:.1f} s, browser part {total:.1f} s; query {labels[i]!r} changed the marks "
          f"{start['true']} -> {now['true']}; {len(blocked)} outside requests aborted; screenshot {shot}")


def test_the_viewer_opens_your_own_images_in_a_real_browser(chromium, tmp_path):
    from tests.test_match import crop_query, save, smoke_model, striped_gallery

    gallery = striped_gallery(tmp_path / "my images")
    query = crop_query(gallery, 2, (0, 0, 48, 40), tmp_path / "query.png")
    ckpt = save(smoke_model(), tmp_path / "ppcl-s0.pt")
    out = Path(os.environ.get("PPCL_OUT") or tmp_path / "run")
    blocked: list[str] = []
    t0 = time.monotonic()
    with serve(tmp_path, out, PPCL_GALLERY_FOLDER=str(gallery), PPCL_QUERY_IMAGE=str(query),
               PPCL_CHECKPOINT=str(ckpt)) as (url, out, log), browser_page(chromium, tmp_path, blocked) as page:
        open_viewer(page, url, out / "viewer_own_failed.png", log)
        first_render = time.monotonic() - t0
        now = state(page)
        assert now["dataset"] == "folder" and now["groundTruth"] == "0" and now["direction"] == "query"
        assert now["queryName"] == f"{tmp_path.name}/query.png" and now["true"] == "0,0,0,0,0"
        assert now["shown"].split(",")[0] == "2"  # 002.png, the query's source, first
        assert now["firstMatchPpcl"] == "" and now["firstMatchR"] == ""
        text = page.inner_text(".ppcl-viewer-state")
        assert "no true-match marks" in text and "resized" in text
        assert page.locator(".ppcl-direction button").count() == 1  # partial images as queries only
        assert page.locator(".ppcl-dataset button").all_inner_texts() == ["your images (my images)"]
        before = image_sources(page)
        page.click(".ppcl-heatmap input")  # the heatmap off: the kernel redraws the pair panel
        page.wait_for_function("old => document.querySelector('img.ppcl-panel-pair').src !== old", arg=before["pair"],
                               timeout=STEP_S * 1000)
        after = image_sources(page)
        assert after["results"] == before["results"] and after["query"] == before["query"]
        shot = out / "viewer_own_images.png"
        page.locator(".ppcl-viewer").screenshot(path=str(shot))
    assert sorted(p.name for p in (out / "figures").glob("06_viewer_folder_query_*.png")) == [
        "06_viewer_folder_query_pair.png", "06_viewer_folder_query_query.png", "06_viewer_folder_query_results.png"]
    assert all(urlparse(u).hostname not in LOOPBACK for u in blocked)
    print(f"your images: first render {first_render:.1f} s; shown {now['shown']}; {len(blocked)} outside requests "
          f"aborted; screenshot {shot}")
