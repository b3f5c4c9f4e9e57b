"""The ways in: everything here does input and output around models/ and training/.

- settings.py       Settings: every VOC_* variable, read once by the entry point and passed down
- cli.py            the `voc` command line
- service/          the HTTP API (`voc serve`)
- batch/            batch scoring of exported files (`voc score`)
- report/           the self-contained HTML report (`voc score --report`)
- storage/          the database behind /v1/stats and `voc score --store`, with its migrations
- training_jobs.py  training jobs started over the API (`voc train` in a child process)
"""
