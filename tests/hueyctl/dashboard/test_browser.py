"""The dashboard over a real deployment (two consumers under supervisord, one instance on
SQLite and one on the suite's redis-server): in a real headless chromium, and its
restart and reload actions over HTTP."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By

from hueyctl import deployment
from hueyctl.bind import bind
from hueyctl.manifest import load

from ...waiting import wait_until
from ..hueyctl_helpers import write_manifest
from .dashboard_helpers import request

pytestmark = pytest.mark.slow

APP = '''
"""A test app: ``hold`` keeps the one worker busy until a file appears."""
import time
from pathlib import Path

from huey import Huey

huey = Huey("{name}")
DONE = Path(__file__).with_name("done-{name}.txt")


@huey.task()
def hold(release):
    deadline = time.monotonic() + 60
    while not Path(release).exists() and time.monotonic() < deadline:
        time.sleep(0.05)


@huey.task()
def fail():
    raise ValueError("fails on purpose")


@huey.task()
def record(word):
    with open(DONE, "a") as f:
        f.write(word + "\\n")
'''
HOSTILE = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def deployed(hueyctl, tmp_path: Path, redis_server, fresh_imports: None) -> Iterator[Path]:
    """`hueyctl up` of alpha (SQLite, one worker) and beta (Redis); brought down after."""
    redis_server.start()
    redis_server.flushdb()
    for name in ("alpha", "beta"):
        (tmp_path / f"dash_{name}.py").write_text(APP.format(name=name))
    quick = "heartbeat_timeout: 9"  # consumers publish their counts every 3 seconds
    path = write_manifest(
        tmp_path / "m.yaml",
        f"""
        version: 1
        project: shop
        instances:
          alpha: {{app: "dash_alpha:huey", storage: "sqlite:///alpha.db", {quick}, workers: 1}}
          beta: {{app: "dash_beta:huey", storage: "{redis_server.url}", {quick}, workers: 2}}
        """,
    )
    result = hueyctl("up", path)
    assert result.exit_code == 0, result.output
    yield path
    deployment.down(load(path))


@pytest.fixture
def dashboard(deployed: Path) -> Iterator[str]:
    """`hueyctl dashboard MANIFEST --port N` as its own process; its URL."""
    port = _free_port()
    command = [str(Path(sys.executable).with_name("hueyctl")), "dashboard", str(deployed)]
    process = subprocess.Popen([*command, "--port", str(port)], stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    assert wait_until(lambda: _answers(url), timeout=30), process.stderr
    yield url
    process.terminate()
    process.wait(timeout=10)


def _answers(url: str) -> bool:
    try:
        return request(url + "/api/status")[0] == 200
    except OSError:  # not listening yet
        return False


@pytest.fixture
def browser() -> Iterator[object]:
    """Headless chromium through chromedriver (./scripts/test installs both)."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "no chromium: ./scripts/test installs chromium and chromium-driver"
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_argument("--window-size=1400,900")
    options.binary_location = chromium
    browser = webdriver.Chrome(options=options, service=webdriver.ChromeService(driver))
    yield browser
    browser.quit()


def screenshot(driver, tmp_path: Path, name: str) -> None:
    """Keep a screenshot as an artifact: in tmp_path, and in $DASHBOARD_SCREENSHOTS if set."""
    driver.save_screenshot(str(tmp_path / f"{name}.png"))
    if os.environ.get("DASHBOARD_SCREENSHOTS"):
        target = Path(os.environ["DASHBOARD_SCREENSHOTS"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / f"{name}.png", target / f"{name}.png")


def test_overview_instance_page_revoke_and_live_counts(
    dashboard: str, deployed: Path, browser, tmp_path: Path
) -> None:
    # The page redraws from the API every two seconds: an element found just before a
    # redraw is gone after it, so reads and clicks find their element again until it holds.
    def text(css: str) -> str:
        try:
            found = browser.find_elements(By.CSS_SELECTOR, css)
            return found[0].text if found else ""
        except StaleElementReferenceException:
            return ""

    def click(how: str, what: str) -> None:
        def clicked() -> bool:
            try:
                browser.find_element(how, what).click()
            except (StaleElementReferenceException, NoSuchElementException):
                return False  # redrawn under us, or not drawn yet
            return True

        assert wait_until(clicked, timeout=30)

    hueys = bind(deployed)
    from dash_alpha import hold, record
    from dash_beta import fail
    from dash_beta import record as record_beta

    release = tmp_path / "release"
    hold(str(release))
    target = record("target").task.task_id
    hostile = record(HOSTILE).task.task_id
    for word in ("one", "two", "three"):
        record_beta(word)
    fail()
    assert wait_until(lambda: hueys["alpha"].storage.inflight_size() == 1, timeout=30)

    browser.get(dashboard + "/")
    alpha, beta = 'tr[data-instance="alpha"]', 'tr[data-instance="beta"]'
    assert wait_until(lambda: text(f'{alpha} [data-field="queued"]') == "2", timeout=30)
    assert text(f'{alpha} [data-field="state"]') == "RUNNING"
    assert text(f'{beta} [data-field="state"]') == "RUNNING"
    assert wait_until(lambda: text(f'{beta} [data-field="finished"]') == "3", timeout=30)
    assert wait_until(lambda: text(f'{beta} [data-field="failed"]') == "1", timeout=30)
    assert text(f'{beta} [data-field="errors"]') == "1"
    assert text(f'{beta} [data-field="heartbeating"]') == "1"
    assert text(f'{alpha} [data-field="finished"]') == "0"
    screenshot(browser, tmp_path, "overview")

    click(By.LINK_TEXT, "alpha")
    row = f'tr[data-task-id="{target}"]'
    assert wait_until(lambda: text(f'{row} [data-field="revoked"]') == "waiting", timeout=30)
    # Arguments are shown on request, as text: the hostile one runs nothing.
    click(By.CSS_SELECTOR, "#pending + table button:not([data-action])")
    shown = f'tr[data-task-id="{hostile}"] [data-field="args"]'
    assert wait_until(lambda: HOSTILE in text(shown), timeout=30)
    assert browser.execute_script("return window.pwned") is None

    click(By.CSS_SELECTOR, f'{row} button[data-action="revoke"]')
    browser.switch_to.alert.accept()
    assert wait_until(lambda: text(f'{row} [data-field="revoked"]') == "revoked", timeout=30)
    assert hueys["alpha"].is_revoked(target)
    screenshot(browser, tmp_path, "instance")

    click(By.ID, "home")
    assert wait_until(lambda: text(f'{alpha} [data-field="queued"]') == "2", timeout=30)
    release.touch()  # the tasks run; the page's counts follow without a reload
    assert wait_until(lambda: text(f'{alpha} [data-field="queued"]') == "0", timeout=30)
    assert wait_until(lambda: text(f'{alpha} [data-field="finished"]') == "2", timeout=30)
    assert text(f'{alpha} [data-field="in_flight"]') == "0"
    bars = browser.find_elements(By.CSS_SELECTOR, f"{alpha} svg.finished rect")
    assert any(float(bar.get_attribute("height")) > 0 for bar in bars)
    screenshot(browser, tmp_path, "overview-after")
    done = tmp_path / "done-alpha.txt"
    assert wait_until(lambda: done.exists() and HOSTILE in done.read_text(), timeout=30)
    assert "target" not in done.read_text().split()  # revoked: skipped, not run

    exposed = request(dashboard + "/metrics")[2].decode()
    totals: dict[tuple[str, str, str], float] = {}  # summed over the consumer label
    for family in text_string_to_metric_families(exposed):
        for sample in family.samples:
            if sample.name.startswith("huey_tasks_"):
                key = (sample.name, sample.labels["instance"], sample.labels["task"])
                totals[key] = totals.get(key, 0.0) + sample.value
    assert totals[("huey_tasks_finished_total", "beta", "dash_beta.record")] == 3
    assert totals[("huey_tasks_revoked_total", "alpha", "dash_alpha.record")] == 1

    click(By.LINK_TEXT, "alpha")
    counts = 'tr[data-task="dash_alpha.record"]'
    assert wait_until(lambda: text(f'{counts} [data-field="revoked"]') == "1", timeout=30)
    assert text(f'{counts} [data-field="finished"]') == "1"
    screenshot(browser, tmp_path, "instance-after")

    # Retry beta's failed call from its error row: the consumer runs it (and it fails) again.
    browser.get(dashboard + "/instances/shop/beta")
    click(By.CSS_SELECTOR, 'tr[data-error-of] button[data-action="retry"]')
    browser.switch_to.alert.accept()
    assert wait_until(lambda: text("#flash") == "retry: done (1 row)", timeout=30)
    assert wait_until(lambda: len(hueys["beta"].errors()) == 2, timeout=30)


def test_restart_and_reload_act_on_the_real_consumer(dashboard: str) -> None:
    page = request(dashboard + "/")[2].decode()
    csrf = {"X-CSRF-Token": page.split('name="csrf-token" content="')[1].split('"')[0]}

    def pid() -> int:
        rows = json.loads(request(dashboard + "/api/status")[2])
        return {row["instance"]: row["pid"] for row in rows}["beta"]

    before = pid()
    status, _, body = request(dashboard + "/api/instances/shop/beta/reload", {}, csrf)
    assert (status, json.loads(body)) == (200, [{"instance": "beta", "signal": "HUP"}])
    assert pid() == before  # SIGHUP restarts the workers, not the process

    status, _, body = request(dashboard + "/api/instances/shop/beta/restart", {}, csrf)
    assert status == 200, body
    assert json.loads(body)[0]["state"] == "RUNNING"
    assert pid() != before
