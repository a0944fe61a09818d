"""The application layer: the ``Project`` facade and the operations it composes
(status, plan, run, backfill, checks, verify, observe, lineage)."""
