"""Tracker: the pipeline, storage, the HTTP API and the `sporing` command line."""
