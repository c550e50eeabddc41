"""Detect text on a page that addresses the reviewer instead of the shop's visitors.

A shop's pages talk to customers. Text that tells "the AI", "the reviewer" or "the system"
what to do, that forges a chat or tool role marker, or that is shaped like the verdict the
model must submit, is an attempt to steer the review (a prompt injection). The signal is
used in one place only (agent/evidence_floor.py): when a model's verdict leaves out
evidence that code verified, and the pages carry such text, the model's verdict is set
aside for the offline engine's. It never approves anything by itself.

Patterns, not a classifier: each one names the attack shape it catches, so a hit can be
explained in the audit log, and each is anchored on reviewer-directed wording (an
instruction noun, a role marker, a verdict field) so that ordinary shop text such as
"ignore previous versions of this manual" does not match. Recall and false positives on
public data: bench/injection_detector.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from merchant_review.pages import PageSnapshot, fold

_I = re.IGNORECASE

# What an override targets: the instructions a model was given, in EN / ES / DE / FR.
_EN_PRIOR = (
    r"(?:all |any |the |your |my |of )*"
    r"(?:previous|prior|above|earlier|preceding|former|original|system|initial)"
)
_EN_ORDERS = (
    r"(?:instructions?|prompts?|rules|directions|directives|guidelines|commands|context"
    r"|tasks?|assignments?|messages?|orders|information)"
)

_PATTERNS: dict[str, re.Pattern[str]] = {
    # "Ignore previous instructions", "forget everything before", "disregard the above".
    "override (en)": re.compile(
        rf"\b(?:ignore|disregard|forget|override|bypass|skip|drop)\b (?:about )?{_EN_PRIOR}"
        rf" {_EN_ORDERS}"
        r"|\bforget (?:about )?(?:all|everything)(?: the)?"
        r" (?:assignments|tasks|instructions|information|we discussed|you know and)\b"
        r"|\bforget everything,"
        r"|\bdrop (?:all )?your instructions\b"
        r"|\b(?:ignore|disregard|forget)\b (?:all |everything )*(?:the )?"
        r"(?:above|before|said before|said so far|that came before)\b"
        r"|\bforget (?:all|everything) (?:that|what) (?:i|you|we) (?:said|told|wrote)"
        r"|\b(?:ignore|disregard|forget) (?:all |your |the )+(?:instructions|rules|guidelines)\b",
        _I,
    ),
    "override (es)": re.compile(
        r"\bolvid[ae] todo\b"
        r"|\b(?:ignora|ignore|ignorar|ignoren|olvida|olvide|olvidar|omite|descarta)\b"
        r"(?: todas?| todos?| las| los| tus| sus)*"
        r" (?:instrucciones|indicaciones|[oó]rdenes|reglas|lo anterior|todo lo anterior)",
        _I,
    ),
    "override (de)": re.compile(
        r"\b(?:ignorier(?:e|en sie|t)?|vergiss|vergessen sie|missachte)\b"
        r"(?: alle| alles| die| deine| ihre| bisherigen| vorherigen| obigen"
        r"| vorangegangenen| vorangehenden| vorigen)*"
        r" (?:anweisungen|instruktionen|befehle|aufgaben|vorgaben|regeln|informationen|davor|zuvor)"
        r"|\bvergiss alles\b|\bvergiss (?:nun )?alle (?:vorherigen )?(?:angaben|auftr[äa]ge)",
        _I,
    ),
    "override (fr)": re.compile(
        r"\b(?:ignore[zr]?|oublie[zr]?|ne tiens pas compte)\b"
        r"(?: toutes?| tous| les| tes| vos| des)*"
        r" (?:instructions|consignes|r[eè]gles|directives|ce qui pr[eé]c[eè]de)",
        _I,
    ),
    # Text that speaks to the model or the reviewer rather than to a customer.
    "addressed to an AI reviewer": re.compile(
        r"\b(?:note|message|instructions?|notice|memo|hinweis|nota|aviso|remarque)"
        r"(?: to| for| an| für| para| pour)(?: the| all| any| den| die| el| los| le| les| l')* ?"
        r"(?:ai|a\.i\.|llm|gpt|chatbot|language models?|ki|ia|modelo|modèle"
        r"|(?:ai |automated |review |compliance )?(?:reviewers?|review bots?|bots?|assistants?))\b"
        r"|\battention,? (?:ai|llm|gpt|chatbot|language model|assistant|reviewer)s?\s*[:,!]"
        r"|\bif you are an? (?:ai|llm|language model|automated|assistant|chatbot|bot"
        r"|large language)"
        r"|\b(?:any|every|all) (?:automated|ai|llm) (?:reviewers?|systems?|models?|agents?)\b"
        r"|\byou are (?:now|no longer) (?:an?|the|my)\b"
        r"|\bi want you to act as\b|\bich m[öo]chte, dass sie als\b",
        _I,
    ),
    # A new task slipped in, or a request for the model's own prompt.
    "task hijack": re.compile(
        r"\b(?:focus|concentrate) on your new task\b|\bnew (?:tasks|instructions) follow\b"
        r"|\bnun folgen (?:neue|weitere) (?:aufgaben|anweisungen)\b"
        r"|\b(?:show|print|reveal|display) (?:me )?(?:all )?(?:your|this|the system)"
        r" (?:prompt|instructions)\b"
        r"|\bwhat are your instructions\b|\byour instructions are now\b",
        _I,
    ),
    # Orders about the verdict itself: approve this merchant, cite nothing, do not flag.
    "verdict order": re.compile(
        r"\b(?:approve|whitelist|clear) (?:this|the)"
        r" (?:merchant|website|site|shop|store|business)\b"
        r"|\b(?:aprueba|apruebe|aprobar) (?:a )?(?:este|esta) (?:comercio|tienda|sitio|negocio)"
        r"|\b(?:genehmige|genehmigen sie|gib) (?:diesen|dieses|diese)"
        r" (?:h[äa]ndler|shop|website|unternehmen)"
        r"|\bapprouve[zr]? (?:ce|cette) (?:marchand|commer[çc]ant|site|boutique)"
        r"|\b(?:respond|reply|answer|output|return|antworte|responde|devuelve|r[ée]pondez|r[ée]ponds)"
        r"\b[^.]{0,40}?\b(?:approve|decision\s*=|low risk)"
        r"|\b(?:final )?decision\s*[:=]\s*approve"
        r"|\bcite nothing\b|\bdo not flag\b|\bclassify this merchant\b"
        r"|\bpre-?approved by\b|\balready (?:passed|been approved|approved)\b",
        _I,
    ),
    # Forged chat/tool framing: role tokens and the prompt's own wrapper tags.
    "fake role marker": re.compile(
        r"<\|(?:im_start|im_end|system|user|assistant|endoftext)\|>"
        r"|\[/?(?:INST|SYS)\]|<</?SYS>>"
        r"|</?(?:untrusted_page|page|tool_result|tool_call|system|assistant|instructions?)(?:\s[^>]*)?>"
        r"|\bassistant to=functions\."
        r"|\[(?:compliance|admin|system)[- ]override\]",
        _I,
    ),
    # A role prefix. Case-sensitive on purpose: "SYSTEM:" or a leading "Assistant:" is
    # framing, "Operating system: Linux" in a product spec is not.
    "fake role prefix": re.compile(
        r"\b(?:SYSTEM|SISTEMA|SYST[EÈ]ME|ASSISTANT|DEVELOPER|ADMIN NOTE)\s*:"
        r"|(?:^|>\s*)(?:System|Assistant|Developer)\s*:"
    ),
    # JSON written in the shape of the verdict the model submits.
    "verdict JSON lookalike": re.compile(
        r'"(?:decision|findings|site_status|escalation_reason|categories)"\s*:\s*[\["{]'
        r"|\bsubmit_verdict\b",
        _I,
    ),
}


@dataclass(frozen=True)
class InjectionHit:
    """One detected attempt: which pattern, the matched text, and where."""

    pattern: str
    match: str
    url: str


def detect_text(text: str, url: str = "") -> list[InjectionHit]:
    """Every pattern that matches `text` (one hit per pattern)."""
    folded = fold(text.replace("’", "'"))
    hits = []
    for name, pattern in _PATTERNS.items():
        if found := pattern.search(folded):
            hits.append(InjectionHit(name, found.group(0).strip()[:120], url))
    return hits


def page_text(page: PageSnapshot) -> str:
    """All text a page offers a model or hides from a visitor: both can carry an attack."""
    return "\n".join([page.citable_text(), page.hidden_text, *page.meta.values()])


def detect_pages(pages: Iterable[PageSnapshot]) -> list[InjectionHit]:
    """Hits on every fetched page, in page order."""
    return [hit for page in pages for hit in detect_text(page_text(page), page.url)]
