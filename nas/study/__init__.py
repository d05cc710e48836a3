"""Studies: configuration, storage, the trial record, the objective and the worker loop."""
