"""What the app's routes share: settings, the store, accounts, jobs, templates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from fastapi import Request
from fastapi.templating import Jinja2Templates

from merchant_review.policy import PolicyCorpus, load_corpus
from merchant_review.settings import Settings
from merchant_review.storage import Store
from merchant_review.web.accounts import Accounts
from merchant_review.web.config import WebSettings
from merchant_review.web.jobs import ReviewJobs


@dataclass
class AppState:
    settings: Settings
    web: WebSettings
    store: Store
    accounts: Accounts
    jobs: ReviewJobs
    templates: Jinja2Templates

    def corpus(self) -> PolicyCorpus:
        """The policy corpus (cached by load_corpus; an edited rule file is reloaded)."""
        return load_corpus(self.settings.policy_dir)


def app_state(request: Request) -> AppState:
    """The state of the app serving `request`."""
    return cast(AppState, request.app.state.web)
