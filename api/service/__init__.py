"""The HTTP service (FastAPI's "bigger applications" layout): app.py assembles it; `voc serve` runs it."""
