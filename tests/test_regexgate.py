"""Gates of the `re:` indicators: one Aho-Corasick pass answers as testing every literal of
every requirement does, and a pattern runs only when each of its requirements is met."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from agent.offline.indicators import compiled
from agent.offline.regexgate import Gate, GateScan, pattern_gate
from merchant_review.policy import load_corpus


def by_literal_tests(gates: list[Gate], text: str) -> list[int]:
    """The oracle: a substring test for every literal of every requirement."""
    return [
        number
        for number, gate in enumerate(gates)
        if all(any(literal in text for literal in literals) for literals in gate)
    ]


def test_overlapping_and_nested_literals_are_all_found() -> None:
    gates: list[Gate] = [
        (frozenset({"abc"}),),
        (frozenset({"bc"}),),
        (),
        (frozenset({"zz", "ab"}),),
    ]
    assert GateScan(gates).candidates("xabcx") == [0, 1, 2, 3]
    assert GateScan(gates).candidates("nothing here") == [2]
    assert GateScan([(), ()]).candidates("") == [0, 1]  # no literal at all
    assert GateScan([]).candidates("text") == []


def test_every_requirement_must_be_met() -> None:
    gate: Gate = (frozenset({"return", "profit"}), frozenset({"day", "hour"}))
    scan = GateScan([gate])
    assert scan.candidates("profits of 30% after one day") == [0]
    assert scan.candidates("open every day of the week") == []  # "day" alone
    assert scan.candidates("free returns within 30 days") == [0]


literal_sets = st.frozensets(st.text("abc", min_size=1, max_size=3), min_size=1, max_size=3)


@given(
    st.lists(st.lists(literal_sets, max_size=3).map(tuple), max_size=8),
    st.text("abcd ", max_size=40),
)
def test_the_scan_answers_as_testing_each_literal(gates: list[Gate], text: str) -> None:
    assert GateScan(gates).candidates(text) == by_literal_tests(gates, text)


def test_the_corpus_gates_pass_the_same_patterns_on_a_page() -> None:
    corpus = compiled(load_corpus())
    gates = [corpus.indicators[number].gate for number in corpus.unkeyed]
    assert all(gates)  # every shipped pattern has a gate
    page = "buy thc gummies, 25 mg thc each. d9 carts in stock. returns of 20% after 7 days, 9mm"
    found = corpus.gates.candidates(page)
    assert found == by_literal_tests(gates, page)
    assert found  # the page names several gated patterns' literals


def test_a_pattern_gate_holds_each_requirement_of_its_sequence() -> None:
    gate = pattern_gate(r"\b(?:returns?|profits?)\s+of\s+\d+%\s+after\s+\d+\s+(?:days?|hours?)\b")
    assert frozenset({"return", "profit"}) in gate
    assert frozenset({"of"}) in gate and frozenset({"after"}) in gate
    assert frozenset({"day", "hour"}) in gate
    assert pattern_gate(r"(?:foo|\d+)") == ()  # nothing every match must contain
    assert pattern_gate("(unclosed") == ()


def test_an_alternation_requires_something_only_if_every_alternative_does() -> None:
    assert pattern_gate(r"\bd[89]\s+carts?\b") == (frozenset({"cart"}),)
    assert pattern_gate(r"(?:replica|clone)\s+watch") == (
        frozenset({"replica", "clone"}),
        frozenset({"watch"}),
    )
    assert pattern_gate(r"(?:foo|\d+)\s+bar") == (frozenset({"bar"}),)
