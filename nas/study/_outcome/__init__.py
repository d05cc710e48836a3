"""A study's answer: the confirm stage, its verdict on the test split, and how it is read.

Above :mod:`nas.study._store`; :func:`nas.study.run_confirm` and :func:`nas.study.confirmed`
are its face.
"""

__all__: list[str] = []
