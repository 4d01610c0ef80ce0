"""The console in a real browser: Debian's Chromium driven by Playwright (the system browser;
Playwright downloads none), against the API served by uvicorn with the projection worker
running, on the two seed stories. One browser for the module; each person signs in in a fresh
context. Screenshots of each page go to docs/console/ (the README shows them).

Skipped outside CI when no Chromium is installed (`./dev test`, hence `.ci/run`, installs it
with apt-get when missing).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import pytest

from services.app.read_side import ProjectionWorker
from services.wiring import Runtime, build_api, evaluator, live_runner
from tests.integration.http_support import live_server
from tests.integration.read_models.support import ReadSide
from tests.stories import Person, Story, parent_after_surgery, young_professional

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = os.environ.get("CARE_CHROMIUM", "/usr/bin/chromium")
# Where the screenshots go: the README's pictures are refreshed with
# CARE_SCREENSHOTS=docs/console ./dev test; by default a scratch directory, so a test run
# leaves the checkout as it found it.
SHOTS = Path(
    os.environ.get("CARE_SCREENSHOTS") or Path(tempfile.gettempdir()) / "carecircle-console-shots"
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SUPERVISOR = Person("sup-dana", "supervisor", "harbor-counseling")
AUDITOR = Person("aud-ruth", "auditor", "state-oversight")
STRANGER = Person("peer-ola", "peer_specialist", "elm-street-clinic")

# in CI a missing browser is a failure, not a skip (./dev test installs it)
pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None and not os.environ.get("CI"), reason=f"no {CHROMIUM}"
)


@pytest.fixture(scope="module")
def told(runtime: Runtime, read_side: ReadSide) -> dict[str, UUID]:
    from fastapi.testclient import TestClient

    with TestClient(build_api(runtime)) as api:
        jordan = young_professional(Story(clock=read_side.clock))
        jordan.over_http(api, runtime.settings)
        morgan = parent_after_surgery(Story(clock=read_side.clock))
        morgan.over_http(api, runtime.settings)
    read_side.settle()
    assert jordan.client_id is not None
    assert morgan.client_id is not None
    return {"jordan": jordan.client_id, "morgan": morgan.client_id}


@pytest.fixture(scope="module")
def server(runtime: Runtime, told: dict[str, UUID]) -> Iterator[str]:
    stop = threading.Event()
    worker = ProjectionWorker(live_runner(runtime), evaluator(runtime), poll_seconds=0.1)
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    with live_server(build_api(runtime)) as url:
        yield url
    stop.set()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with playwright_api.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser
        browser.close()


def person(chromium: Any, server: str, who: Person, **options: Any) -> Any:
    """A fresh browser context (its own cookies) signed in as `who` with the development form."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, **options)
    page = context.new_page()
    page.goto(f"{server}/console")
    assert page.url.endswith("/console/sign-in")
    page.fill("input[name=sub]", who.sub)
    page.select_option("select[name=role]", who.role)
    page.fill("input[name=org]", who.org)
    with page.expect_navigation():
        page.click("form:has(input[name=sub]) button[type=submit]")
    return page


def shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_a_supervisor_works_the_shift_from_flags_to_timeline_to_access_log(
    chromium: Any, server: str, runtime: Runtime, told: dict[str, UUID]
) -> None:
    page = person(chromium, server, SUPERVISOR)
    # the shift view: the seed stories' flags by severity, with counts and names
    assert page.url.endswith("/console/shift")
    counts = page.inner_text("ul.counts")
    assert "high" in counts
    assert page.locator("tr.flag").count() >= 1
    assert "Jordan Vale" in page.inner_text("table.flags")
    shoot(page, "shift")

    row = page.locator("tr.flag", has_text="Jordan Vale").first
    flag_id = row.get_attribute("data-flag-id")
    row.locator("form[action$='/acknowledge'] input[name=note]").fill("Calling Jordan now")
    with page.expect_navigation():
        row.locator("button", has_text="Acknowledge").click()
    assert "Flag acknowledged" in page.inner_text("main")
    row = page.locator(f'tr.flag[data-flag-id="{flag_id}"]')
    assert row.locator(".status").inner_text() == "acknowledged"
    shoot(page, "shift-acknowledged")

    row.locator("form[action$='/resolve'] input[name=note]").fill(
        "C-SSRS screener negative; safety plan reviewed with Jordan"
    )
    with page.expect_navigation():
        row.locator("button", has_text="Resolve").click()
    assert "Flag resolved" in page.inner_text("main")
    assert page.locator(f'tr.flag[data-flag-id="{flag_id}"]').count() == 0
    history = runtime.store.load(told["jordan"])
    closing = [
        r.event for r in history if r.event.type in ("RiskFlagAcknowledged", "RiskFlagResolved")
    ]
    assert [(e.type, e.actor.id, e.data.flag_id) for e in closing] == [  # type: ignore[attr-defined]
        ("RiskFlagAcknowledged", "sup-dana", flag_id),
        ("RiskFlagResolved", "sup-dana", flag_id),
    ]

    # the client's timeline, with its charts drawn on the server
    page.goto(f"{server}/console/search?q=jordan")
    with page.expect_navigation():
        page.locator("a", has_text="Jordan Vale").first.click()
    assert page.inner_text("h1").startswith("Jordan Vale")
    assert page.locator("svg.chart").count() >= 4  # mood, craving, sleep, PHQ-9
    assert page.locator("svg.chart .threshold").count() >= 2
    assert "counselor-ines" in page.inner_text("main")
    assert "resolved" in page.inner_text("ul.flag-list")
    shoot(page, "client-timeline")

    page.goto(f"{server}/console/caseloads")
    assert "counselor-ines" in page.inner_text("table")
    shoot(page, "caseloads")

    # the access log now lists those reads, the supervisor as the reader
    page.goto(f"{server}/console/audit?client_id={told['jordan']}")
    log = page.inner_text("table.access-log")
    assert "sup-dana" in log
    assert "read history" in log
    assert "RiskFlagResolved" in page.inner_text("table.audit")
    shoot(page, "audit-and-access")
    page.context.close()


def test_a_peer_of_another_organization_cannot_see_the_client(
    chromium: Any, server: str, told: dict[str, UUID]
) -> None:
    page = person(chromium, server, STRANGER)
    answer = page.goto(f"{server}/console/clients/{told['jordan']}")
    assert answer.status == 404
    assert "Client not found" in page.inner_text("h1")
    page.goto(f"{server}/console/search?q=jordan")
    assert "No client of yours matches" in page.inner_text("main")
    page.context.close()


def test_an_auditor_reads_the_access_log_and_verifies_the_chains_but_no_record(
    chromium: Any, server: str, told: dict[str, UUID]
) -> None:
    page = person(chromium, server, AUDITOR)
    assert page.url.endswith("/console/audit")
    assert "sup-dana" in page.inner_text("table.access-log")
    with page.expect_navigation():
        page.click("button:has-text('Verify now')")
    assert "Both chains verified" in page.inner_text("section.verification")
    shoot(page, "auditor")
    answer = page.goto(f"{server}/console/clients/{told['jordan']}")
    assert answer.status == 403
    page.context.close()


def test_the_console_reads_with_javascript_off(
    chromium: Any, server: str, told: dict[str, UUID]
) -> None:
    page = person(chromium, server, SUPERVISOR, java_script_enabled=False)
    assert page.inner_text("h1").startswith("Open flags")
    page.goto(f"{server}/console/clients/{told['morgan']}")
    assert page.inner_text("h1").startswith("Morgan Reyes")
    assert page.locator("svg.chart").count() >= 3
    page.context.close()


def test_the_api_docs_render_with_the_network_cut_off(chromium: Any, server: str) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    local = urlsplit(server).netloc
    refused: list[str] = []

    def only_local(route: Any) -> None:
        if urlsplit(route.request.url).netloc == local:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    page = context.new_page()
    page.goto(f"{server}/docs")
    page.wait_for_selector(".opblock", timeout=30_000)
    assert page.locator(".opblock").count() > 10
    assert "/v1/clients" in page.inner_text("#swagger-ui")
    shoot(page, "docs")
    page.goto(f"{server}/redoc")
    page.wait_for_selector("h2:has-text('Find clients by name or id')", timeout=30_000)
    assert refused == []
    context.close()
