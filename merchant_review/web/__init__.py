"""The analyst web app (FastAPI, server-rendered Jinja2 pages) and its JSON API.

    from merchant_review.web.app import create_app

Modules: `app` (the factory), `auth` (tokens, sessions, CSRF), `accounts` and `tables`
(users, API tokens, sessions), `credentials` (hashing), `queries` (the review queue,
merchant history), `views` and `evidence` (what the review page shows; quotes in context),
`integrity` (a review's audit-chain status), `jobs` (background reviews), `reports` (eval
reports), `headers` (security headers), `schemas` (API bodies), `routes/` (pages and API).
"""
