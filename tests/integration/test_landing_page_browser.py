"""The landing page in a real headless Chromium, with the simulated shop floor behind the exporter.

Chromium is driven through chromedriver's W3C WebDriver HTTP API (plain requests, no extra
library). The page must list every simulated machine with its state and active alarms, and
show a new alarm by itself when the state changes. Set UPDATE_SCREENSHOT=1 to refresh the
README's screenshot (docs/landing-page.png).
"""

from __future__ import annotations

import base64
import os
import subprocess
import tempfile
import time
from datetime import datetime, timezone

import pytest
import requests

from factorydash.config import parse_config
from factorydash.exporter import Exporter
from factorydash.simulator import ConditionFault, ShopFloor, SimulatorServer
from factorydash.web import ExporterApp, WebServer
from tests.conftest import ROOT, require_program
from tests.integration.stack import free_port

pytestmark = pytest.mark.integration

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
]
ROWS_SCRIPT = "return Array.from(document.querySelectorAll('#devices tbody tr')).map(row => row.innerText);"


class Browser:
    def __init__(self) -> None:
        chromium = require_program("chromium")
        driver = require_program("chromedriver")
        self.port = free_port()
        self.profile = tempfile.TemporaryDirectory(prefix="factorydash-chromium-")
        self.process = subprocess.Popen([driver, f"--port={self.port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(f"{self.base}/status", timeout=1).json()["value"]["ready"]:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                self.close()
                raise RuntimeError("chromedriver did not start")
            time.sleep(0.1)
        options = {"binary": chromium, "args": [*CHROMIUM_ARGS, f"--user-data-dir={self.profile.name}"]}
        answer = requests.post(
            f"{self.base}/session",
            json={"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}},
            timeout=60,
        ).json()
        self.session = f"{self.base}/session/{answer['value']['sessionId']}"

    def open(self, url: str) -> None:
        requests.post(f"{self.session}/url", json={"url": url}, timeout=30).raise_for_status()

    def run(self, script: str) -> object:
        answer = requests.post(f"{self.session}/execute/sync", json={"script": script, "args": []}, timeout=30)
        return answer.json()["value"]

    def screenshot(self) -> bytes:
        return base64.b64decode(requests.get(f"{self.session}/screenshot", timeout=30).json()["value"])

    def close(self) -> None:
        try:
            requests.delete(self.session, timeout=10)
        except (AttributeError, requests.RequestException):
            pass
        self.process.terminate()
        self.process.wait(10)
        self.profile.cleanup()


def rows_until(browser: Browser, condition, timeout: float = 15.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        rows = browser.run(ROWS_SCRIPT) or []
        if condition(rows) or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def test_the_landing_page_shows_every_machine_and_updates_as_the_state_changes():
    shop = ShopFloor(seed=2, clock="manual", start=datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc))
    shop.advance(1800)  # half an hour into the shift: machines cutting
    browser = None
    with SimulatorServer(shop) as simulator:
        exporter = Exporter(parse_config(f"agents:\n  - {{name: shopfloor, url: '{simulator.url}', poll_interval: 100ms}}\n"))
        web = WebServer(ExporterApp(exporter), "127.0.0.1", 0)
        exporter.start()
        web.start()
        try:
            browser = Browser()
            browser.open(f"{web.url}?refresh=1")
            machines = [machine.name for machine in shop.devices]
            rows = rows_until(browser, lambda rows: all(any(name in row for row in rows) for name in machines))
            for name in machines:
                row = next(row for row in rows if name in row)
                assert "AVAILABLE" in row and any(state in row for state in ("ACTIVE", "READY", "FEED_HOLD", "INTERRUPTED", "STOPPED", "PROGRAM_COMPLETED"))
            target, hostile = machines[1], machines[2]
            shop.schedule(shop.now(), ConditionFault(target, duration=3600, native_code="F4711", text="SPINDLE OVERHEAT"))
            shop.advance(5)
            rows = rows_until(browser, lambda rows: any(target in row and "F4711" in row for row in rows))
            assert "fault F4711 SPINDLE OVERHEAT" in next(row for row in rows if target in row)
            # The README's picture: a realistic alarm, taken before the escaping check below adds markup text.
            picture = browser.screenshot()
            assert picture.startswith(b"\x89PNG") and len(picture) > 10_000
            if os.environ.get("UPDATE_SCREENSHOT"):
                (ROOT / "docs" / "landing-page.png").write_bytes(picture)

            shop.schedule(shop.now(), ConditionFault(hostile, duration=3600, native_code="X1", text="<b>INJECTED</b>"))
            shop.advance(5)
            rows = rows_until(browser, lambda rows: any(hostile in row and "X1" in row for row in rows))
            assert "fault X1 <b>INJECTED</b>" in next(row for row in rows if hostile in row)  # text: markup escaped
            assert browser.run("return document.querySelectorAll('#devices b').length") == 0
        finally:
            if browser is not None:
                browser.close()
            web.stop()
            exporter.stop()
