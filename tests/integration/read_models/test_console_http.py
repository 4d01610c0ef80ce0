"""The console over plain HTTP (no browser): sign-in, the session cookie's attributes, CSRF on
every state-changing form, the CSP on every page, and authorization exactly the API's. The
browser tests (tests/integration/browser/) walk the same pages in Chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from services.app.disclosure import CONSENT_HEADER, NOTICE, NOTICE_HEADER, NOTICE_HEADER_TEXT
from services.wiring import Runtime, build_api
from tests.integration.privacy.support import record
from tests.integration.read_models.support import ReadSide
from tests.stories import (
    COUNSELOR,
    PEER,
    Person,
    Story,
    consent_terms,
    parent_after_surgery,
    young_professional,
)

SUPERVISOR = Person("sup-dana", "supervisor", "harbor-counseling")
AUDITOR = Person("aud-ruth", "auditor", "state-oversight")
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


@pytest.fixture(scope="module")
def told(runtime: Runtime, read_side: ReadSide) -> dict[str, UUID]:
    with TestClient(build_api(runtime)) as api:
        jordan = young_professional(Story(clock=read_side.clock))
        jordan.over_http(api, runtime.settings)
        morgan = parent_after_surgery(Story(clock=read_side.clock))
        morgan.over_http(api, runtime.settings)
    read_side.settle()
    assert jordan.client_id is not None
    assert morgan.client_id is not None
    return {"jordan": jordan.client_id, "morgan": morgan.client_id}


@pytest.fixture
def browser(runtime: Runtime) -> Iterator[TestClient]:
    """A browser's cookie jar on http://localhost (where the console leaves Secure off)."""
    with TestClient(
        build_api(runtime), base_url="http://localhost", follow_redirects=False
    ) as client:
        yield client


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "the form carries no CSRF token"
    return found.group(1)


def sign_in(browser: TestClient, who: Person) -> str:
    form = browser.get("/console/sign-in")
    answer = browser.post(
        "/console/sign-in",
        data={"csrf_token": csrf_of(form.text), "sub": who.sub, "role": who.role, "org": who.org},
    )
    assert answer.status_code == 303, answer.text
    home = "/console/audit" if who.role == "auditor" else "/console/shift"
    return csrf_of(browser.get(home).text)


def test_without_a_session_every_page_sends_you_to_sign_in(browser: TestClient) -> None:
    for path in ("/console", "/console/shift", "/console/audit", "/console/search?q=a"):
        answer = browser.get(path)
        assert (answer.status_code, answer.headers["location"]) == (303, "/console/sign-in")


def test_the_session_cookie_is_httponly_strict_and_secure_off_localhost(
    runtime: Runtime, browser: TestClient
) -> None:
    form = browser.get("/console/sign-in")
    answer = browser.post(
        "/console/sign-in",
        data={"csrf_token": csrf_of(form.text), "sub": "sup-dana", "role": "supervisor"}
        | {"org": "harbor-counseling"},
    )
    session = next(c for c in answer.headers.get_list("set-cookie") if "carecircle_session" in c)
    assert "HttpOnly" in session
    assert "SameSite=strict" in session
    assert "Path=/console" in session
    assert "Secure" not in session  # http://localhost: a browser would drop a Secure cookie

    with TestClient(build_api(runtime), base_url="https://console.example.org") as remote:
        page = remote.get("/console/sign-in")
        nonce = next(c for c in page.headers.get_list("set-cookie") if "carecircle_csrf" in c)
    assert "Secure" in nonce
    assert "HttpOnly" in nonce


def test_a_form_posted_without_its_csrf_token_is_refused_and_changes_nothing(
    runtime: Runtime, browser: TestClient, told: dict[str, UUID]
) -> None:
    no_token = browser.post("/console/sign-in", data={"sub": "x", "role": "supervisor"})
    assert no_token.status_code == 403
    sign_in(browser, SUPERVISOR)
    head = runtime.store.head()
    flag = _first_flag_id(browser.get("/console/shift").text)

    refused = browser.post(f"/console/flags/{flag}/acknowledge", data={"note": "on it"})
    forged = browser.post(
        f"/console/flags/{flag}/acknowledge", data={"note": "on it", "csrf_token": "0" * 64}
    )

    assert refused.status_code == 403
    assert forged.status_code == 403
    assert browser.post("/console/sign-out", data={}).status_code == 403
    assert runtime.store.head() == head  # nothing recorded


def test_every_page_sends_a_csp_without_inline_script(
    browser: TestClient, told: dict[str, UUID]
) -> None:
    answers = [browser.get("/console/sign-in")]
    sign_in(browser, SUPERVISOR)
    for path in (
        "/console/shift",
        "/console/caseloads",
        f"/console/clients/{told['jordan']}",
        "/console/search?q=vale",
        f"/console/audit?client_id={told['jordan']}",
        "/docs",
        "/redoc",
    ):
        answer = browser.get(path)
        assert answer.status_code == 200, (path, answer.text[:300])
        answers.append(answer)
    for answer in answers:
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
        assert "<script>" not in answer.text  # no inline script to allow


def test_a_supervisor_acknowledges_a_flag_and_the_record_names_them(
    runtime: Runtime, browser: TestClient, told: dict[str, UUID]
) -> None:
    csrf = sign_in(browser, SUPERVISOR)
    shift = browser.get("/console/shift").text
    assert "Jordan Vale" in shift
    flag = _first_flag_id(shift)

    answer = browser.post(
        f"/console/flags/{flag}/acknowledge", data={"csrf_token": csrf, "note": "calling now"}
    )

    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/console/shift?done=acknowledged&min_position=")
    acknowledged = [
        r.event
        for client in told.values()
        for r in runtime.store.load(client)
        if r.event.type == "RiskFlagAcknowledged"
    ]
    assert [(e.actor.id, e.actor.role, e.data.flag_id) for e in acknowledged] == [  # type: ignore[attr-defined]
        ("sup-dana", "supervisor", flag)
    ]


def test_authorization_is_the_apis_a_peer_of_another_org_and_an_auditor(
    browser: TestClient, told: dict[str, UUID]
) -> None:
    sign_in(browser, PEER)
    # Morgan's Part 2 program is harbor-counseling's; the peer (harbor-peer) has no consent
    assert browser.get(f"/console/clients/{told['morgan']}").status_code == 403
    stranger = Person("peer-ola", "peer_specialist", "elm-street-clinic")
    sign_in(browser, stranger)
    assert browser.get(f"/console/clients/{told['jordan']}").status_code == 404
    sign_in(browser, AUDITOR)
    assert browser.get(f"/console/clients/{told['jordan']}").status_code == 403
    assert browser.get("/console/audit").status_code == 200


def _first_flag_id(html: str) -> str:
    found = re.search(r'data-flag-id="([^"]+)"', html)
    assert found is not None, "no flag on the shift view"
    return found.group(1)


def test_pages_that_disclose_a_part2_client_to_another_organization_carry_the_notice(
    browser: TestClient, runtime: Runtime, read_side: ReadSide, told: dict[str, UUID]
) -> None:
    # given Morgan's Part 2 program consents to disclose to the peer specialist's organization
    morgan = told["morgan"]
    with TestClient(build_api(runtime)) as api:
        record(
            api, runtime, morgan, COUNSELOR, "ConsentGranted", **consent_terms("c-peer", PEER.org)
        )
    read_side.settle()

    # when the peer specialist opens their caseload, Morgan's timeline and a search for Morgan
    sign_in(browser, PEER)
    pages = {
        "caseload": browser.get(f"/console/caseloads/{PEER.sub}"),
        "timeline": browser.get(f"/console/clients/{morgan}"),
        "search": browser.get("/console/search", params={"q": "reyes"}),
    }

    # then each page shows Morgan with the 42 CFR 2.32 notice, the consent relied on, and the
    # API's headers (42 CFR 2.32: every disclosure to another organization carries the notice)
    for name, answer in pages.items():
        assert answer.status_code == 200, (name, answer.status_code)
        assert "Morgan" in answer.text, name
        assert "42 CFR part 2 notice" in answer.text, name
        assert NOTICE in answer.text.replace("&#39;", "'").replace("&amp;", "&"), name
        assert "c-peer" in answer.text, name
        assert answer.headers[NOTICE_HEADER] == NOTICE_HEADER_TEXT, name
        assert answer.headers[CONSENT_HEADER] == "c-peer", name

    # and the program's own supervisor, to whom nothing is disclosed, sees no notice
    sign_in(browser, SUPERVISOR)
    own = browser.get(f"/console/clients/{morgan}")
    assert own.status_code == 200
    assert "42 CFR part 2 notice" not in own.text
    assert NOTICE_HEADER not in own.headers
