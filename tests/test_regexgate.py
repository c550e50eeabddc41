"""Gates of the `re:` indicators: one Aho-Corasick pass answers as a test per literal does."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from agent.offline.indicators import compiled
from agent.offline.regexgate import GateScan, may_match, required_literals
from merchant_review.policy import load_corpus

Gate = frozenset[str] | None


def by_literal_tests(gates: list[Gate], text: str) -> list[int]:
    return [number for number, gate in enumerate(gates) if may_match(gate, text)]


def test_overlapping_and_nested_literals_are_all_found() -> None:
    gates: list[Gate] = [frozenset({"abc"}), frozenset({"bc"}), None, frozenset({"zz", "ab"})]
    assert GateScan(gates).candidates("xabcx") == [0, 1, 2, 3]
    assert GateScan(gates).candidates("nothing here") == [2]
    assert GateScan([None, None]).candidates("") == [0, 1]  # no literal at all
    assert GateScan([]).candidates("text") == []


@given(
    st.lists(
        st.one_of(st.none(), st.frozensets(st.text("abc", min_size=1, max_size=3), min_size=1)),
        max_size=8,
    ),
    st.text("abcd ", max_size=40),
)
def test_the_scan_answers_as_testing_each_literal(gates: list[Gate], text: str) -> None:
    assert GateScan(gates).candidates(text) == by_literal_tests(gates, text)


def test_the_corpus_gates_pass_the_same_patterns_on_a_page() -> None:
    corpus = compiled(load_corpus())
    gates = [corpus.indicators[number].gate for number in corpus.unkeyed]
    assert all(gate is not None for gate in gates)  # every shipped pattern has a gate
    page = "buy thc gummies, 25 mg thc each. d9 carts in stock. returns of 2% daily, 9mm"
    found = corpus.gates.candidates(page)
    assert found == by_literal_tests(gates, page)
    assert found  # the page names several gated patterns' literals


def test_required_literals_of_a_branch_need_every_alternative() -> None:
    assert required_literals(r"\bd[89]\s+carts?\b") == frozenset({"cart"})
    assert required_literals(r"(?:replica|clone)\s+watch") == frozenset({"watch"})
    assert required_literals(r"(?:foo|\d+)") is None  # one alternative has no literal
