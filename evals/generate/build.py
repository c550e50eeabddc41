"""One dev case from its spec: merchant record, site files, expected verdict, annotation."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

from evals.generate.blank import render_blank
from evals.generate.identity import Identity, make_identity
from evals.generate.injections import Method, Planted, apply, pick
from evals.generate.labels import expected, notes
from evals.generate.merchant import merchant_record
from evals.generate.placement import plant
from evals.generate.plan import CaseSpec
from evals.generate.render import render
from evals.generate.site import Found, build_site


@dataclass
class BuiltCase:
    case: dict[str, Any]  # the cases.jsonl line
    files: dict[str, str]  # site files by relative path (empty: unreachable)
    annotation: dict[str, Any]  # slicing metadata for people (annotations.jsonl)


def _site_files(
    rng: random.Random, spec: CaseSpec, ident: Identity
) -> tuple[dict[str, str], list[Found]]:
    if spec.blank is not None:
        return render_blank(rng, spec.blank, ident), []
    site = build_site(rng, spec.site, ident)
    for spec_plant in spec.plants:
        plant(site, rng, spec_plant)
    return render(site), site.found


def _inject(rng: random.Random, files: dict[str, str], lang: str) -> Planted:
    """Plant one injection into one HTML page of the site."""
    page = rng.choice(sorted(p for p in files if p.endswith(".html")))
    planted = Planted(pick(rng, lang), rng.choice(list(Method)), page)
    files[page] = apply(files[page], planted.method, planted.injection.text)
    return planted


def _annotation(
    case_id: str, spec: CaseSpec, found: list[Found], planted: Planted | None
) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "lang": spec.lang,
        "kind": spec.kind.value,
        "site_business": spec.site,
        "declared_business": spec.declared,
        "blank": spec.blank.value if spec.blank else None,
        "euphemism": any(p.euphemism for p in spec.plants),
        "evidence": [asdict(f) | {"category": f.category.value} for f in found],
        "injection": None
        if planted is None
        else {
            "id": planted.injection.id,
            "method": planted.method.value,
            "page": planted.page,
        },
    }


def build_case(
    seed: int, case_id: str, spec: CaseSpec, used_hosts: set[str], *, inject: bool
) -> BuiltCase:
    """Everything one case writes. Its own seeded generator keeps cases independent."""
    rng = random.Random(f"{seed}:{case_id}")
    ident = make_identity(rng, spec, used_hosts)
    record = merchant_record(rng, case_id, spec, ident)
    files, found = _site_files(rng, spec, ident)
    planted = _inject(rng, files, spec.lang) if inject and files else None
    case = {
        "case_id": case_id,
        "merchant": record,
        "expected": expected(spec),
        "notes": notes(spec, found, planted),
    }
    return BuiltCase(case, files, _annotation(case_id, spec, found, planted))
