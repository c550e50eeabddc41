"""The analyst pages, rendered over a real seeded database (FastAPI's TestClient)."""

from __future__ import annotations

import re
import threading
from html import unescape

from fastapi import FastAPI
from fastapi.testclient import TestClient
from markupsafe import escape

from merchant_review.policy import load_corpus
from merchant_review.records import MerchantRecord
from merchant_review.storage import Store
from merchant_review.web.app import create_app
from merchant_review.web.config import WebSettings
from merchant_review.web.headers import REPORT_CSP
from merchant_review.web.state import AppState
from tests.dbtools import tamper
from tests.sitefixtures import Reply, ScriptedServer, html, local_settings
from tests.webdata import (
    ANALYST,
    ANALYST_PASSWORD,
    IMG_MARKUP,
    SCRIPT_QUOTE,
    VIEWER,
    VIEWER_PASSWORD,
    Seeded,
    csrf_token,
    log_in,
    offline_settings,
)

pytest_plugins = ["tests.webfixtures"]

THC_QUOTE = "Each gummy contains 25 mg THC from premium indica flower."


def marks(page: str) -> list[str]:
    return [unescape(m) for m in re.findall(r"<mark>(.*?)</mark>", page, re.S)]


def test_the_queue_lists_reviews_needing_a_human_with_filters(
    client: TestClient, seeded: Seeded
) -> None:
    log_in(client, VIEWER, VIEWER_PASSWORD)
    page = client.get("/queue").text
    for merchant in ("demo_greenleaf", "demo_lantern", "demo_northwind", "evil_shop"):
        assert f"/reviews/{seeded.reviews[merchant]}" in page, merchant
    assert f"/reviews/{seeded.reviews['demo_bakery']}" not in page
    assert "reject awaiting confirmation" in page

    rejects = client.get("/queue", params={"decision": "reject", "category": ""}).text
    assert seeded.reviews["demo_greenleaf"] in rejects
    assert seeded.reviews["demo_lantern"] not in rejects
    assert '<option value="reject" selected>' in rejects

    sorted_page = client.get("/queue", params={"sort": "confidence", "order": "asc"}).text
    assert 'class="active">Confidence ↑' in sorted_page
    paged = client.get("/queue", params={"per_page": 2}).text
    assert "page 1 of" in paged and "per_page=2&amp;page=2" in paged.replace(
        "page=2&amp;per_page=2", "per_page=2&amp;page=2"
    )
    assert "Nothing needs a human" in client.get("/queue", params={"date_to": "2000-01-01"}).text
    bad = client.get("/queue", params={"decision": "maybe"})
    assert bad.status_code == 400 and "decision" in bad.text


def test_the_review_page_shows_rules_quotes_in_context_costs_and_the_audit_status(
    client: TestClient, seeded: Seeded
) -> None:
    log_in(client, VIEWER, VIEWER_PASSWORD)
    review_id = seeded.reviews["demo_greenleaf"]
    page = client.get(f"/reviews/{review_id}").text
    rule = load_corpus().get("illegal_drugs.thc_products")
    assert rule is not None
    assert escape(rule.title) in page and escape(rule.description) in page
    assert THC_QUOTE in marks(page)
    context = re.search(r'<blockquote class="context">(.*?)</blockquote>', page, re.S)
    assert context and len(unescape(context.group(1))) > len(THC_QUOTE) + 20  # its context
    assert re.search(rf'href="/reviews/{review_id}/pages/\d+">stored page snapshot', page)
    assert "offline-rules@1" in page and "corpus-" in page and "LLM calls" in page
    assert "✔ intact" in page


def test_a_page_snapshot_shows_the_stored_text_with_the_quote_marked(
    client: TestClient, seeded: Seeded
) -> None:
    log_in(client, VIEWER, VIEWER_PASSWORD)
    review_id = seeded.reviews["demo_greenleaf"]
    review = client.get(f"/reviews/{review_id}").text
    link = re.search(rf'href="(/reviews/{review_id}/pages/\d+)">stored page snapshot', review)
    assert link
    snapshot = client.get(link.group(1))
    assert snapshot.status_code == 200
    assert THC_QUOTE in marks(snapshot.text)
    assert "greenleaf-wellness.example" in snapshot.text
    assert client.get(f"/reviews/{review_id}/pages/999").status_code == 404


def test_merchant_markup_is_shown_as_text_everywhere(client: TestClient, seeded: Seeded) -> None:
    log_in(client, ANALYST, ANALYST_PASSWORD)
    review_id = seeded.reviews["evil_shop"]
    review = client.get(f"/reviews/{review_id}").text
    assert "<script" not in review and "<img" not in review
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in review
    assert SCRIPT_QUOTE in marks(review)  # highlighted, as text
    assert "Sells &lt;i&gt;replicas&lt;/i&gt;" in review
    snapshot_url = re.search(rf"/reviews/{review_id}/pages/\d+", review)
    assert snapshot_url
    snapshot = client.get(snapshot_url.group(0)).text
    assert "<script" not in snapshot and "<img" not in snapshot and "<!--" not in snapshot
    assert escape(IMG_MARKUP) in snapshot
    assert "&lt;!-- pre-approved by the processor --&gt;" in snapshot  # hidden text, as text
    merchant = client.get("/merchants/evil_shop").text
    assert "&lt;b&gt;Evil&lt;/b&gt; Shop" in merchant and "<b>Evil" not in merchant
    assert "<script" not in client.get("/queue").text


def test_an_analyst_overrides_with_a_reason_and_sees_it_in_history(
    client: TestClient, seeded: Seeded
) -> None:
    log_in(client, ANALYST, ANALYST_PASSWORD)
    review_id = seeded.reviews["demo_northwind"]
    page = client.get(f"/reviews/{review_id}").text
    assert "Record decision" in page
    form = {"decision": "approve", "reason": "Real outdoor shop.", "csrf_token": csrf_token(page)}
    done = client.post(f"/reviews/{review_id}/overrides", data=form, follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == f"/reviews/{review_id}#history"
    page = client.get(f"/reviews/{review_id}").text
    assert "Real outdoor shop." in page and f"by <strong>{ANALYST}</strong>" in page
    assert "Standing decision" in page
    history = client.get("/merchants/demo_northwind").text
    assert re.search(r"d-approve\">approve</span> by ana", history)
    assert seeded.reviews["demo_northwind"] not in client.get("/queue").text


def test_an_override_that_breaks_the_taxonomy_shows_why(client: TestClient, seeded: Seeded) -> None:
    log_in(client, ANALYST, ANALYST_PASSWORD)
    review_id = seeded.reviews["demo_bakery"]
    page = client.get(f"/reviews/{review_id}").text
    form = {"decision": "reject", "reason": "gut feeling", "csrf_token": csrf_token(page)}
    response = client.post(f"/reviews/{review_id}/overrides", data=form)
    assert response.status_code == 400
    assert "does not fit the categories" in response.text
    assert "gut feeling</textarea>" in response.text  # the analyst's text is kept
    with_category = {**form, "categories": ["weapons"], "reason": "sells rifles"}
    assert client.post(f"/reviews/{review_id}/overrides", data=with_category).status_code == 200


def test_starting_a_review_from_the_merchant_page_shows_progress_then_the_result(
    client: TestClient, web_app: FastAPI
) -> None:
    log_in(client, ANALYST, ANALYST_PASSWORD)
    page = client.get("/merchants/demo_cloudpeak").text
    assert "Start a new review" in page
    started = client.post(
        "/merchants/demo_cloudpeak/reviews",
        data={"csrf_token": csrf_token(page)},
        follow_redirects=False,
    )
    assert started.status_code == 303
    job_url = started.headers["location"]
    job_id = job_url.rsplit("/", 1)[1]
    state: AppState = web_app.state.web
    job = state.jobs.wait(job_id, 60)
    assert job is not None and job.status.value == "done", job
    done = client.get(job_url).text
    assert 'http-equiv="refresh"' not in done
    assert f'href="/reviews/{job.review_id}"' in done and "request info" in done
    history = client.get("/merchants/demo_cloudpeak").text
    assert f"/reviews/{job.review_id}" in history and "web" in history


def test_a_running_review_page_refreshes_itself_until_the_result(web_db: str) -> None:
    slow = MerchantRecord(merchant_id="slow_shop", website="https://slow-shop.example/")
    store = Store(web_db)
    store.import_merchants([slow])
    store.close()
    release = threading.Event()
    home = Reply(body=html("<h1>Slow Shop</h1><p>Handmade soap and candles.</p>"), hold=release)
    with ScriptedServer({"/": [home]}) as server:
        crawl = local_settings({"slow-shop.example": server.origin})
        settings = offline_settings(web_db).model_copy(update={"crawl": crawl})
        app = create_app(settings, WebSettings())
        with TestClient(app) as client:
            log_in(client, ANALYST, ANALYST_PASSWORD)
            page = client.get("/merchants/slow_shop").text
            running = client.post(
                "/merchants/slow_shop/reviews", data={"csrf_token": csrf_token(page)}
            )
            assert '<meta http-equiv="refresh" content="1">' in running.text
            assert re.search(r"Status: <strong>(queued|running)</strong>", running.text)
            release.set()
            job_id = str(running.url).rsplit("/", 1)[1]
            state: AppState = app.state.web
            job = state.jobs.wait(job_id, 60)
            assert job is not None and job.finished
            done = client.get(f"/jobs/{job_id}").text
            assert 'http-equiv="refresh"' not in done and "Status: <strong>done</strong>" in done
    assert "/" in server.requests


def test_the_review_page_reports_a_broken_audit_chain(
    client: TestClient, seeded: Seeded, web_db: str
) -> None:
    review_id = seeded.reviews["demo_luxe"]
    tamper(
        web_db,
        "UPDATE verdicts SET decision = 'approve' WHERE review_id = :id",
        id=review_id,
    )
    log_in(client, VIEWER, VIEWER_PASSWORD)
    page = client.get(f"/reviews/{review_id}").text
    assert "✘ broken" in page
    assert "content changed since it was written: decision" in page


def test_eval_reports_are_listed_served_under_a_strict_csp_and_compared(
    client: TestClient,
) -> None:
    log_in(client, VIEWER, VIEWER_PASSWORD)
    listing = client.get("/reports").text
    for name in ("baseline.json", "baseline.html", "candidate.json"):
        assert f"/reports/files/{name}" in listing
    served = client.get("/reports/files/baseline.html")
    assert served.status_code == 200 and "<html" in served.text
    assert served.headers["content-security-policy"] == REPORT_CSP
    assert client.get("/reports/files/baseline.json").json()["cases"] == 4
    compared = client.get("/reports/compare", params={"a": "baseline.json", "b": "candidate.json"})
    assert compared.status_code == 200
    assert "McNemar exact p" in compared.text and "decision accuracy" in compared.text
    assert re.search(
        r"<td class=\"(better|worse|)\">(fixed|broken|still wrong)</td>", compared.text
    )
    for name in ("../seed.db", "..%2Fseed.db", ".hidden.json", "baseline.txt"):
        assert client.get(f"/reports/files/{name}").status_code == 404
    wrong_kind = client.get(
        "/reports/compare", params={"a": "baseline.html", "b": "candidate.json"}
    )
    assert wrong_kind.status_code == 404


def test_unknown_things_get_a_404_page(client: TestClient) -> None:
    log_in(client, VIEWER, VIEWER_PASSWORD)
    for path in ("/reviews/nope", "/merchants/nope", "/jobs/nope"):
        response = client.get(path)
        assert response.status_code == 404
        assert "Not Found" in response.text and "Log out" in response.text
