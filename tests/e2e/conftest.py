"""Browser tests drive Debian's Chromium (never a downloaded browser) against a live server.

They skip locally where /usr/bin/chromium is absent and fail under CI=true (``.ci/run`` installs
the ``chromium`` package)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import require

CHROMIUM = "/usr/bin/chromium"
# Playwright's sync API runs an event loop in this thread; the live server's ORM calls are
# in their own thread, and our test code calls services synchronously between page steps.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    require(
        os.path.exists(CHROMIUM),
        f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium; CI does)",
    )
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # The smallest screen the UI is designed for: a tablet in portrait.
    return {**browser_context_args, "viewport": {"width": 768, "height": 1024}}


@pytest.fixture
def shots() -> Path:
    folder = Path(settings.VAR_DIR) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
