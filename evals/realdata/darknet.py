"""darknet-drugs-huji: onion drug-shop text (DUTA class Drugs) and eBay "lookalike" listings.

Onion pages (see evals/DATASETS.md, "real-darknet"):
- mirrors collapse to one page (same text once onion hosts and digits are removed);
- the page text is cut to TEXT_LIMIT characters; labels come from that text only:
  named illegal/controlled drugs → illegal_drugs; named prescription medicines (ED drugs,
  steroids, benzodiazepines, opioids, stimulants...) or "without prescription" →
  pharma_unlicensed; controlled medicines count for both;
- OVERRIDES holds the pages read by hand (slang-only menus, a novelty-ID shop, a snus page,
  pages with no product at all), each with its reason.
eBay listings: approve, except smoking accessories marketed with weed/420 words
(→ reject [illegal_drugs], paraphernalia marketed for drug use) and herbal sex supplements
claiming effects on erectile function (→ escalate, a possible pseudo-pharmaceutical claim).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from evals.realdata.common import RealCase, block_paragraphs, clip, one_line
from merchant_review.taxonomy import Category, Decision

C, D = Category, Decision
TEXT_LIMIT = 12_000
_DRUGS = re.compile(
    r"\b(cannabis|marijuana|weed|hashish|thc|kush|mdma|ecstasy|xtc|lsd|psilocybin|shrooms|"
    r"magic mushrooms?|dmt|cocaine|heroin|meth|methamphetamine|amphetamines?|ketamine|opium|"
    r"mephedrone|ghb|gbl|skunk|mescaline|2c-b|crystal meth|sativa|indica|hash seller|ketama)\b",
    re.IGNORECASE,
)
_CONTROLLED_MEDICINES = re.compile(
    r"\b(oxycodone|oxycontin|hydrocodone|fentanyl|morphine|codeine|xanax|alprazolam|valium|"
    r"diazepam|klonopin|clonazepam|adderall|ritalin|tramadol|benzodiazepines?)\b",
    re.IGNORECASE,
)
_MEDICINES = re.compile(
    r"\b(viagra|sildenafil|cialis|tadalafil|kamagra|levitra|steroids?|anabolics?|testosterone|"
    r"nandrolone|trenbolone|hgh|clenbuterol|anavar|dianabol|oxandrolone|tamoxifen|clomid|"
    r"modafinil|pharmacy|prescriptions?)\b",
    re.IGNORECASE,
)
# Pages read by hand: (decision, categories, reason); decision None = left out.
OVERRIDES: dict[str, tuple[Decision | None, list[Category], str]] = {
    "teddanzighyyvrdt.onion": (D.REJECT, [C.COUNTERFEIT_IP], "Novelty (fake) ID vendor."),
    "uginbsxc2c3tsngy.onion": (
        D.REJECT,
        [C.ILLEGAL_DRUGS],
        "Price menu for 'Ice' (meth) and pills by the gram.",
    ),
    "ye224web57i3gblr.onion": (
        D.REJECT,
        [C.ILLEGAL_DRUGS],
        "Joints, trim, edibles and concentrates for sale.",
    ),
    "hqwwti2guilksrmw.onion": (
        D.REJECT,
        [C.PHARMA_UNLICENSED],
        "Gum sold as a treatment for erectile dysfunction (unproven claims).",
    ),
    "rvpny7dfkzj7vj2o.onion": (
        D.REQUEST_INFO,
        [C.TOBACCO_VAPING],
        "Snus page (mentions smoking weed as a pastime, sells no drugs).",
    ),
    "xlgng7lqphi6tdtm.onion": (D.REQUEST_INFO, [C.TOBACCO_VAPING], "Snus page (mirror)."),
    "medabon5cuwzr2mg.onion": (
        D.REJECT,
        [C.PHARMA_UNLICENSED],
        "Sells Medabon abortion pills (prescription-only) by mail.",
    ),
    "si4bm7a6rbxgpjzg.onion": (
        D.REJECT,
        [C.ILLEGAL_DRUGS],
        "Sells 'pure MPA' (methiopropamine, a legal-high stimulant).",
    ),
    "x2u26l2gxxxkrbrz.onion": (
        D.REJECT,
        [C.ILLEGAL_DRUGS],
        "'The Drug Store': request any drug by email.",
    ),
    "midcity7ccxtrzhn.onion": (
        None,
        [],
        "Stolen-account market (porn and PayPal logins) besides drugs: full category set unclear.",
    ),
    "propanedxosqy7fu.onion": (None, [], "Parody page selling propane."),
    "grams5rfqo3dipz7.onion": (None, [], "Darknet search engine, sells nothing."),
    "labcookbwdzyczxd.onion": (
        None,
        [],
        "Sells 'poisons/chemicals': not a taxonomy category we can confirm.",
    ),
    "4thievzv3hh26qeh.onion": (None, [], "DIY-medicine collective publishing plans, not a shop."),
    "kpj3orlxmfs6yqah.onion": (None, [], "Shipping policy only within the kept text."),
    "mushbudwoxxtdh6q.onion": (None, [], "Shipping policy only within the kept text (mirror)."),
    "tukxegaqo5wemnxy.onion": (None, [], "Empty shop shell of a hosting platform."),
    "un4sduyebvk4xr4w.onion": (None, [], "Empty shop shell of a hosting platform."),
    "c7hal6caa6ma6thp.onion": (None, [], "Text lost in the dump (punctuation only)."),
}
_SMOKING = re.compile(r"\b(pipes?|grinders?|rolling|roller|hookah|bongs?|smoking)\b", re.IGNORECASE)
_WEED_MARKETING = re.compile(r"\b(weed|weeds|420|marijuana|cannabis|ganja|blunt)\b", re.IGNORECASE)
_SUPPLEMENT = re.compile(r"horny goat|tongkat|libido|sexual", re.IGNORECASE)
_ED_CLAIM = re.compile(r"\b(erectile|impotence)\b", re.IGNORECASE)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _mirror_key(text: str) -> str:
    text = re.sub(r"[a-z2-7]{16}\.onion", "", text.lower())
    return re.sub(r"\s+", " ", re.sub(r"\d", "", text))[:1500]


def _categories(text: str) -> list[Category]:
    """Categories named at least twice in the text (once, when nothing is named twice)."""
    controlled = len(_CONTROLLED_MEDICINES.findall(text))
    hits = {
        C.ILLEGAL_DRUGS: len(_DRUGS.findall(text)) + controlled,
        C.PHARMA_UNLICENSED: len(_MEDICINES.findall(text)) + controlled,
    }
    found = [c for c, n in hits.items() if n >= 2] or [c for c, n in hits.items() if n >= 1]
    return sorted(found, key=lambda c: c.value)


def _onion_case(row: dict[str, Any]) -> RealCase | None:
    text = clip(row["text"], TEXT_LIMIT, at="\n")
    source_id = f"darknet-drugs-huji:onion {row['id']} (DUTA {row['duta_sub_class']})"
    title = one_line(next((ln for ln in text.splitlines() if ln.strip()), row["id"]))
    if row["id"] in OVERRIDES:
        decision, categories, why = OVERRIDES[row["id"]]
        if decision is None:
            return None
        return RealCase(source_id, title, block_paragraphs(text), decision, categories, why)
    categories = _categories(text)
    if not categories:
        return None
    why = "Drug shop (DUTA Drugs); categories from the drugs/medicines named in the page text."
    return RealCase(source_id, title, block_paragraphs(text), D.REJECT, categories, why)


def _ebay_label(title: str, text: str) -> tuple[Decision, list[Category], str]:
    if _SMOKING.search(title) and _WEED_MARKETING.search(f"{title} {text}"):
        return D.REJECT, [C.ILLEGAL_DRUGS], "Smoking accessory marketed with weed/420 words."
    if _SUPPLEMENT.search(f"{title} {text}") and _ED_CLAIM.search(text):
        return D.ESCALATE, [], "Herbal sex supplement claiming effects on erectile function."
    return D.APPROVE, [], "Legal eBay listing found by a drug-word search (lookalike)."


def _ebay_case(row: dict[str, Any]) -> RealCase:
    lines = row["text"].splitlines()
    body = "\n".join(ln for ln in lines if not ln.startswith("## URL "))
    decision, categories, why = _ebay_label(row["title"], body)
    text = clip(body, TEXT_LIMIT, at="\n")
    source_id = f"darknet-drugs-huji:ebay {row['id']}"
    return RealCase(
        source_id,
        one_line(row["title"], 120),
        block_paragraphs(text) or [row["title"]],
        decision,
        categories,
        why,
    )


def _why_left_out(row: dict[str, Any], mirror: bool) -> str:
    if mirror:
        return "mirror of an earlier page"
    override = OVERRIDES.get(row["id"])
    return override[2] if override else "no drug or medicine named in the kept text"


def convert(folder: Path) -> tuple[list[RealCase], list[str]]:
    """(cases, source ids left out): unique onion pages, then every eBay listing."""
    cases, left_out, seen = [], [], set()
    for row in _jsonl(folder / "onion_drug_sites.jsonl"):
        key = _mirror_key(row["text"])
        case = None if key in seen else _onion_case(row)
        if case is not None:
            cases.append(case)
        else:
            left_out.append(
                f"darknet-drugs-huji:onion {row['id']}: {_why_left_out(row, key in seen)}"
            )
        seen.add(key)
    cases += [_ebay_case(row) for row in _jsonl(folder / "ebay_lookalike_listings.jsonl")]
    return cases, left_out
