"""Real public data (shared/data/*) converted to the eval-dataset contract format.

One module per source; `python -m evals.convert_real --out evals/datasets` runs them all.
Labels follow what each source supports (see evals/DATASETS.md); nothing is tuned to the
system under evaluation.
"""
