"""Online evaluation: named review configurations, shadow reviews, champion/challenger.

- `schema`   experiment_configs (mutable: which configuration is the champion),
             shadow_reviews (append-only: challenger review ↔ champion review) and
             experiment_log (append-only, hash-chained: created, promoted)
- `spec`     what a configuration fixes (engine, model, prompts, corpus, thresholds, prices)
             and how it is applied to the Settings
- `configs`  creating, listing and promoting configurations; `log` their audit chain
- `assign`   deterministic, seeded per-merchant assignment to the shadow share
- `shadow`   running a challenger beside the champion in a batch, without letting it act
- `pairs`    champion/challenger pairs read back from the audit log, with analysts' labels
- `stats`    Wilson intervals and the always-valid sequential test (mixture SPRT)
- `report`   the experiment report; `cli` the `experiment` commands
"""
