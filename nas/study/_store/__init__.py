"""What a study keeps in its database and artifact store, and how it survives crashes.

The storage, the records of studies and trials, heartbeats and retries, the workers' lock, weights.
"""

__all__: list[str] = []
