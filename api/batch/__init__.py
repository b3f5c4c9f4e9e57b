"""Batch scoring of exported files (`voc score`):

- score.py    the run: rows in chunks through the analyzer, errors and resume checkpoints, optional storing
- output.py   the scored file (CSV, JSONL, XLSX, Parquet) with the contract's columns
- workers.py  fast mode's worker processes, one per core
- topics.py   topic columns for a scored file (`--topics`)
"""
