"""The security and reliability suite (issue 8): SSRF, prompt injection, faults.

Each module builds hostile scenarios on 127.0.0.1 only and returns typed outcomes that
tests assert on and `bench/security.py` counts: `ssrf` (hostile targets, no connection
may leave), `injection` (injected pages, a gullible model), `crawl_faults` and
`model_faults` (every review must end recorded, within budget). `netspy` holds the
fake DNS and the counting listeners they share.
"""
