"""The dashboard: rendered headless by Streamlit's AppTest, and driven in a
real browser (Debian's Chromium through Selenium) against the real build."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import cc_segmentation

APP = str(Path(cc_segmentation.__file__).parent / "apps" / "dashboard.py")


def test_without_a_warehouse_the_dashboard_says_how_to_build_it(tmp_path, monkeypatch):
    monkeypatch.setenv("CC_SEGMENTATION_WAREHOUSE", str(tmp_path / "none.duckdb"))
    app = AppTest.from_file(APP, default_timeout=60).run()
    assert not app.exception
    assert "cc-segmentation build" in app.error[0].value


@pytest.mark.slow
def test_every_tab_renders_from_the_real_warehouse(real_build, monkeypatch):
    monkeypatch.setenv("CC_SEGMENTATION_WAREHOUSE", str(real_build.warehouse))
    app = AppTest.from_file(APP, default_timeout=120).run()
    assert not app.exception
    assert [t.label for t in app.tabs] == [
        "Overview",
        "Segment profiles",
        "Map",
        "Choosing k",
        "Customer lookup",
        "Score a customer",
    ]
    app.text_input[0].input("C10001").run()
    assert not app.exception
    expected = real_build.query(
        "select segment_name from customer_segments where cust_id = 'C10001'"
    ).segment_name[0]
    # data is escaped Markdown: a backslash before punctuation shows it as is
    shown = [re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", m.value) for m in app.markdown]
    assert any(expected in text for text in shown)


def expected_segment_for_medians(build) -> str:
    """The warehouse's answer for a customer at the portfolio medians,
    worked out with numpy from the stored fit state and centroids."""
    medians = build.query(
        "select feature_name, median from feature_distributions"
    ).set_index("feature_name")["median"]
    scaling = build.query("select * from feature_scaling order by feature_position")
    values = medians[scaling.feature_name].to_numpy()
    values = np.where(scaling["transform"] == "log1p", np.log1p(values), values)
    values = np.clip(values, scaling.clip_low.to_numpy(), scaling.clip_high.to_numpy())
    z = (values - scaling["mean"].to_numpy()) / scaling.stddev.to_numpy()
    centroids = build.query(
        "select segment_id, feature_position, centroid_z from segment_centroids"
    ).pivot(index="segment_id", columns="feature_position", values="centroid_z")
    nearest = centroids.index[np.argmin(((centroids.to_numpy() - z) ** 2).sum(axis=1))]
    return build.query(
        "select distinct segment_name from customer_segments "
        f"where segment_id = {nearest}"
    ).segment_name[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_a_real_browser_scores_a_customer_through_the_form(real_build, tmp_path):
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        if os.environ.get("CI"):
            pytest.fail("chromium and chromedriver must be installed (.ci/run)")
        pytest.skip("Debian's chromium and chromium-driver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cc_segmentation",
            "dashboard",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
        ],  # fmt: skip
        env=dict(os.environ, CC_SEGMENTATION_WAREHOUSE=str(real_build.warehouse)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    options = Options()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1800",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(flag)
    browser = None
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                    break
            except OSError:
                if time.time() > deadline:
                    pytest.fail("the dashboard did not start")
                time.sleep(0.5)
        browser = webdriver.Chrome(service=Service(driver), options=options)
        browser.get(url)
        wait = WebDriverWait(browser, 90)
        names = real_build.query("select distinct segment_name from customer_segments")
        first = names.segment_name.sort_values().iloc[0]
        wait.until(ec.presence_of_element_located((By.XPATH, f"//*[text()='{first}']")))
        browser.save_screenshot(str(tmp_path / "overview.png"))

        browser.find_element(
            By.XPATH, "//*[@role='tab' and contains(., 'Score a customer')]"
        ).click()
        wait.until(
            ec.element_to_be_clickable(
                (By.XPATH, "//div[@data-testid='stFormSubmitButton']//button")
            )
        ).click()
        answer = wait.until(
            ec.presence_of_element_located(
                (By.XPATH, "//*[starts-with(text(), 'Segment: ')]")
            )
        )
        browser.save_screenshot(str(tmp_path / "scored.png"))
        print(f"screenshots in {tmp_path}")
        assert answer.text == f"Segment: {expected_segment_for_medians(real_build)}"
    finally:
        if browser is not None:
            browser.quit()
        server.terminate()
        server.wait(timeout=30)
