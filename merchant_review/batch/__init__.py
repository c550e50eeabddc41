"""Batch re-review: many merchants, locally or on Celery workers; resumable, incremental.

- `schema`     batch_runs, batch_items, corpus_versions (on the storage package's Base)
- `selection`  which merchants (`--all/--ids/--where/--changed-policy-since/--stale-days`);
               `filters` the safe --where language; `corpus` corpus snapshots and rule diffs
- `runs`       a run's items in the database: atomic claims with leases, fenced finishing
- `process`    one claimed item: settle leftovers (`orphans`), carry forward unchanged
               merchants (`incremental`), else review
- `runner`     the local asyncio runner; `distributed` the Celery app, task and watcher
- `service`    starting and running runs; `changes` summaries and changed decisions;
               `progress` the progress bar; `ratelimit` the model-call rate limit
- `cli`        the `batch` and `worker` commands
"""
