"""The batch report (`voc score --report`): aggregate.py computes its numbers from a scored file, render.py writes
them as one self-contained HTML file."""
