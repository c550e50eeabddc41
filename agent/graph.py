"""The review graph, in one place.

    load_merchant → crawl_website → retrieve_rules → assess → verify_citations → decide → record

Any node that fails records its error and jumps to `decide`, which turns it into an
`escalate` verdict, and `record` stores it: a failed review still leaves its audit trail.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from agent import nodes
from agent.context import ReviewContext
from agent.state import ReviewInput, ReviewState
from merchant_review.audit import AuditEvent, EventKind, sha256_of


class Node(Protocol):
    def __call__(
        self, state: ReviewState, *, runtime: Runtime[ReviewContext]
    ) -> Awaitable[dict[str, Any]]: ...


# Steps that wait on the network. The records of the steps before them are written before
# they start, and theirs when they end; the records of the other (CPU-only) steps wait for
# the review's next write (merchant_review/storage/pending.py), saving a transaction each.
# An assessor that does not wait on the network says so (`waits_on_network = False`, the
# offline engine): its step is then CPU-only too.
WAITS_ON_NETWORK = frozenset({"crawl_website", "assess"})


def _waits(name: str, ctx: ReviewContext) -> bool:
    if name == "assess":
        return bool(getattr(ctx.assessor, "waits_on_network", True))
    return name in WAITS_ON_NETWORK


PIPELINE: list[tuple[str, Node]] = [
    ("crawl_website", nodes.crawl_website),
    ("retrieve_rules", nodes.retrieve_rules),
    ("assess", nodes.assess),
    ("verify_citations", nodes.verify_citations),
]


def _summary(update: dict[str, Any]) -> dict[str, Any]:
    """A short, loggable account of what a node added to the state."""
    summary: dict[str, Any] = {}
    for key, value in update.items():
        if isinstance(value, list):
            summary[key] = f"{len(value)} items"
        elif hasattr(value, "model_dump"):
            summary[key] = sha256_of(value)[:16]
        else:
            summary[key] = value
    if "rules" in update:  # batch --changed-policy-since reads which rules a review touched
        summary["rule_ids"] = [hit.rule.id for hit in update["rules"]]
    return summary


def _record_step(
    ctx: ReviewContext,
    state: ReviewState,
    name: str,
    started: float,
    update: dict[str, Any],
    error: str | None,
) -> None:
    ctx.store.defer_event(
        state["review_id"],
        AuditEvent(
            kind=EventKind.STEP,
            name=name,
            input={"website": state["website"], "keys": sorted(state)},
            output=_summary(update),
            latency_ms=(time.perf_counter() - started) * 1000,
            error=error,
        ),
    )


def audited(name: str, node: Node) -> Node:
    """Run a node, record a step event, and turn an exception into state['error']."""

    async def run(state: ReviewState, *, runtime: Runtime[ReviewContext]) -> dict[str, Any]:
        store, review_id = runtime.context.store, state["review_id"]
        waits = _waits(name, runtime.context)
        if waits:
            store.flush(review_id)
        started = time.perf_counter()
        error: str | None = None
        try:
            update = await node(state, runtime=runtime)
        except Exception as exc:  # a failed step must still end in a recorded verdict
            error = f"{name} failed: {type(exc).__name__}: {exc}"
            update = {"error": error}
        except BaseException as exc:  # cancelled, interrupted: record it, then stop
            _record_step(runtime.context, state, name, started, {}, f"{name} stopped: {exc!r}")
            raise
        _record_step(runtime.context, state, name, started, update, error)
        if waits:
            store.flush(review_id)
        return update

    run.__name__ = name
    return run


def _next_or_decide(target: str) -> Callable[[ReviewState], Awaitable[str]]:
    # A coroutine, not a plain function: LangGraph runs a plain router in a worker thread
    # (a thread hop and a GIL handover per edge, four per review) in an async graph.
    async def route(state: ReviewState) -> str:
        return "decide" if state.get("error") else target

    return route


def build_review_graph() -> CompiledStateGraph[
    ReviewState, ReviewContext, ReviewInput, ReviewState
]:
    """The compiled graph; engines, storage and settings come in through the context."""
    graph = StateGraph(ReviewState, context_schema=ReviewContext, input_schema=ReviewInput)
    graph.add_node("load_merchant", nodes.load_merchant)
    for name, node in PIPELINE:
        graph.add_node(name, audited(name, node))
    graph.add_node("decide", audited("decide", nodes.decide))
    graph.add_node("record", nodes.record)

    graph.add_edge(START, "load_merchant")
    graph.add_edge("load_merchant", PIPELINE[0][0])
    for (name, _), (following, _) in zip(PIPELINE, [*PIPELINE[1:], ("decide", None)], strict=True):
        graph.add_conditional_edges(name, _next_or_decide(following), [following, "decide"])
    graph.add_edge("decide", "record")
    graph.add_edge("record", END)
    return graph.compile(name="merchant_review")
