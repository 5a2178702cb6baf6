"""The page in a real browser: Debian's headless Chromium driven by Selenium against a server on 127.0.0.1.

The model is the tiny-data ResNet-20 of ``conftest.py`` (training one on SIGNS would take minutes here). So
the SIGNS photo's label is checked against :func:`resnets.predict` on the same file (another code path: file
loading, no HTTP), and a blue image against its true class, c2. Screenshots (desktop and phone widths) go to
``tests/artifacts/``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_helpers import image_bytes, running_server

from resnets import predict
from resnets.serving.app import create_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"

if not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()):
    pytest.skip("Debian's chromium and chromium-driver are not installed", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver")

from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1000,900")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def state_after(driver: webdriver.Chrome, *states: str) -> str:
    def settled(d: webdriver.Chrome) -> str | bool:
        state = d.find_element(By.TAG_NAME, "body").get_attribute("data-state")
        return state if state in states else False

    return WebDriverWait(driver, 30).until(settled)


def test_the_page_classifies_an_uploaded_signs_photo(
    browser: webdriver.Chrome, checkpoint: Path, signs_images: list[Path], tmp_path: Path
) -> None:
    photo = signs_images[2]
    expected_label, expected_p = predict(checkpoint, [photo], top_k=4, backend="torch")[0].top[0]
    blue = tmp_path / "blue.png"
    blue.write_bytes(image_bytes((30, 30, 220), size=(40, 40)))
    ARTIFACTS.mkdir(exist_ok=True)

    with running_server(create_app(checkpoint)) as url:
        browser.get(url + "/")
        assert state_after(browser, "ready", "error") == "ready"
        assert browser.find_element(By.ID, "model-name").text == "resnet20"
        assert [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#classes li")] == ["c0", "c1", "c2", "c3"]

        browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
        assert browser.switch_to.active_element.get_attribute("id") == "file", "Tab reaches the file picker"

        browser.find_element(By.ID, "file").send_keys(str(photo))
        assert state_after(browser, "done", "error") == "done", browser.find_element(By.ID, "error").text
        assert browser.find_element(By.ID, "top-label").text == expected_label
        shown = float(browser.find_element(By.ID, "top-probability").text.strip("()%"))
        assert shown == pytest.approx(100 * expected_p, abs=0.051)
        assert len(browser.find_elements(By.CSS_SELECTOR, "#bars li")) == 4
        assert browser.find_element(By.ID, "preview").get_attribute("src").startswith("blob:")
        desktop = ARTIFACTS / "serve-page.png"
        browser.save_screenshot(str(desktop))

        browser.find_element(By.ID, "file").send_keys(str(blue))
        WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "top-label").text == "c2")

        browser.set_window_size(390, 844)
        assert browser.execute_script(
            "return document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        ), "no sideways scrolling at a phone's width"
        phone = ARTIFACTS / "serve-page-phone.png"
        browser.save_screenshot(str(phone))
        loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert loaded and all(name.startswith(url + "/") for name in loaded), loaded

    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors
    print(f"screenshots: {desktop} {phone}")
