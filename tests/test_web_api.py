"""The JSON API: start a review on a local demo site and read its verdict back, the queue,
overrides, the OpenAPI schema (FastAPI's TestClient over a real seeded database)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from merchant_review.storage import Store
from merchant_review.web.queries import queue_reason
from tests.webdata import ANALYST, Seeded, bearer

pytest_plugins = ["tests.webfixtures"]


def test_a_review_started_through_the_api_runs_and_its_verdict_reads_back(
    client: TestClient, seeded: Seeded
) -> None:
    started = client.post(
        "/api/reviews", json={"merchant_id": "demo_lantern"}, headers=bearer(seeded.service_token)
    )
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["status"] in {"queued", "running", "done"}
    assert started.headers["location"] == job["status_url"] == f"/api/review-jobs/{job['job_id']}"

    done = client.get(job["status_url"], params={"wait": 60}, headers=bearer(seeded.viewer_token))
    assert done.status_code == 200
    assert done.json()["status"] == "done", done.json()
    assert done.json()["requested_by"] == "ci-bot"
    review_url = done.json()["review_url"]

    review = client.get(review_url, headers=bearer(seeded.viewer_token)).json()
    assert review["review_id"] != seeded.reviews["demo_lantern"]  # a new review
    assert review["trigger"] == "api" and review["finished"] is True
    verdict = review["verdict"]
    assert verdict["decision"] == "request_info"
    assert verdict["categories"] == ["gambling"]
    quotes = [c["quote"] for f in verdict["findings"] for c in f["citations"] if "quote" in c]
    assert "Play slots, roulette and live blackjack online." in " ".join(quotes)
    assert review["overrides"] == []
    assert review["final"]["decision"] == "request_info"


def test_starting_a_review_of_an_unknown_merchant_is_404(
    client: TestClient, seeded: Seeded
) -> None:
    response = client.post(
        "/api/reviews", json={"merchant_id": "nobody"}, headers=bearer(seeded.analyst_token)
    )
    assert response.status_code == 404
    assert "unknown merchant" in response.json()["detail"]


def test_an_override_through_the_api_is_stored_and_read_back(
    client: TestClient, seeded: Seeded, web_db: str
) -> None:
    review_id = seeded.reviews["demo_greenleaf"]
    body = {"decision": "reject", "reason": "THC gummies on the product page: confirmed."}
    created = client.post(
        f"/api/reviews/{review_id}/overrides", json=body, headers=bearer(seeded.analyst_token)
    )
    assert created.status_code == 201, created.text
    assert created.json()["analyst"] == ANALYST
    assert created.json()["decision"] == "reject"

    review = client.get(f"/api/reviews/{review_id}", headers=bearer(seeded.viewer_token)).json()
    assert [o["reason"] for o in review["overrides"]] == [body["reason"]]
    assert review["final"] == {
        "decision": "reject",
        "categories": ["illegal_drugs"],
        "engine_decision": "reject",
        "analyst": ANALYST,
    }
    store = Store(web_db)  # the audit log itself holds it
    stored = store.get_review(review_id)
    store.close()
    assert stored is not None and stored.overrides[0].analyst == ANALYST


def test_an_override_that_contradicts_its_categories_is_refused(
    client: TestClient, seeded: Seeded
) -> None:
    review_id = seeded.reviews["demo_bakery"]
    body = {"decision": "reject", "reason": "looks wrong", "categories": []}
    response = client.post(
        f"/api/reviews/{review_id}/overrides", json=body, headers=bearer(seeded.analyst_token)
    )
    assert response.status_code == 422
    assert "does not fit the categories" in response.json()["detail"]


def test_an_override_needs_a_reason(client: TestClient, seeded: Seeded) -> None:
    review_id = seeded.reviews["demo_bakery"]
    response = client.post(
        f"/api/reviews/{review_id}/overrides",
        json={"decision": "approve", "reason": ""},
        headers=bearer(seeded.analyst_token),
    )
    assert response.status_code == 422


def test_the_queue_holds_what_needs_a_human(client: TestClient, seeded: Seeded) -> None:
    response = client.get("/api/queue", headers=bearer(seeded.viewer_token))
    assert response.status_code == 200
    queue = response.json()
    ids = {item["review_id"] for item in queue["items"]}
    demo = seeded.reviews
    # reject, request_info and escalate are queued; confident approvals are not
    for merchant in ("demo_greenleaf", "demo_lantern", "demo_cloudpeak", "demo_northwind"):
        assert demo[merchant] in ids, merchant
    assert demo["demo_bakery"] not in ids and demo["demo_potshop"] not in ids
    reasons = {item["review_id"]: item["reason"] for item in queue["items"]}
    assert reasons[demo["demo_greenleaf"]] == "reject awaiting confirmation"
    assert reasons[demo["demo_northwind"]] == "escalated"
    assert queue["total"] == len(queue["items"])


def test_the_queue_filters_sorts_and_pages(client: TestClient, seeded: Seeded) -> None:
    headers = bearer(seeded.viewer_token)

    def items(**params: object) -> list[dict[str, object]]:
        response = client.get("/api/queue", params=params, headers=headers)
        assert response.status_code == 200, response.text
        found: list[dict[str, object]] = response.json()["items"]
        return found

    rejects = items(decision="reject")
    assert {i["merchant_id"] for i in rejects} >= {"demo_greenleaf", "demo_luxe", "evil_shop"}
    assert all(i["decision"] == "reject" for i in rejects)
    assert [i["merchant_id"] for i in items(category="gambling")] == ["demo_lantern"]
    assert items(date_to="2000-01-01") == []
    evals = items(eval_run_id=seeded.eval_run_id)
    assert evals and all(i["eval_run_id"] == seeded.eval_run_id for i in evals)
    by_confidence = [i["confidence"] for i in items(sort="confidence", order="asc")]
    assert by_confidence == sorted(by_confidence)
    page = client.get("/api/queue", params={"per_page": 2, "page": 2}, headers=headers).json()
    assert len(page["items"]) == 2 and page["page"] == 2 and page["pages"] >= 3
    assert (
        client.get("/api/queue", params={"decision": "maybe"}, headers=headers).status_code == 422
    )


def test_an_overridden_review_leaves_the_queue(client: TestClient, seeded: Seeded) -> None:
    review_id = seeded.reviews["demo_luxe"]
    client.post(
        f"/api/reviews/{review_id}/overrides",
        json={"decision": "reject", "reason": "replicas, confirmed"},
        headers=bearer(seeded.analyst_token),
    )
    queue = client.get("/api/queue", headers=bearer(seeded.viewer_token)).json()
    assert review_id not in {item["review_id"] for item in queue["items"]}


def test_the_openapi_schema_describes_the_api(client: TestClient, seeded: Seeded) -> None:
    assert client.get("/openapi.json").status_code == 401
    schema = client.get("/openapi.json", headers=bearer(seeded.viewer_token)).json()
    paths = schema["paths"]
    assert {"/api/reviews", "/api/reviews/{review_id}", "/api/queue"} <= set(paths)
    assert "post" in paths["/api/reviews/{review_id}/overrides"]
    assert "/login" not in paths and "/queue" not in paths  # pages are not API
    assert "HTTPBearer" in schema["components"]["securitySchemes"]


def test_the_queue_reason_names_low_confidence() -> None:
    assert queue_reason("escalate", 0.55, 0.75) == "escalated; low confidence (0.55)"
    assert queue_reason("approve", 0.6, 0.75) == "low confidence (0.60)"
    assert queue_reason("approve", 0.8, 0.75) == ""
