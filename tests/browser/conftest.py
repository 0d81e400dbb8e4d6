"""Fixtures of the browser tests: the real pipeline and API, and Debian's headless chromium.

Chromium comes from the distribution (`deploy/browser.sh`), not from `playwright install`;
without it (or without the playwright package) these tests are skipped.
"""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.pipeline import Pipeline

CHROMIUM = Path(os.environ.get("LOYALTY_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def api_url(pipeline: Pipeline) -> str:
    """Base URL of `loyalty api` running beside the pipeline."""
    return pipeline.start_api()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless chromium driven by playwright."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip(f"no chromium at {CHROMIUM}: run deploy/browser.sh")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
