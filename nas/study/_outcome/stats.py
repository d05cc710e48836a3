"""Small-sample statistics for the confirmed table: mean, sd, t intervals, paired differences."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Summary", "summarize"]

# Two-sided 95% quantiles of Student's t by degrees of freedom (beyond 30: the normal's 1.96).
_T95 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


@dataclass(frozen=True)
class Summary:
    """Mean, sample sd, standard error and 95% t interval of ``n`` values.

    Example:
        >>> s = summarize([1.0, 2.0, 3.0])
        >>> (s.mean, s.sd, round(s.low, 3), round(s.high, 3))
        (2.0, 1.0, -0.484, 4.484)
    """

    n: int
    mean: float
    sd: float
    se: float
    low: float
    high: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def summarize(values: Sequence[float]) -> Summary:
    """Summary of ``values``; with one value the spread is NaN (unknown), not zero."""
    n = len(values)
    if n == 0:
        nan = math.nan
        return Summary(0, nan, nan, nan, nan, nan)
    mean = statistics.fmean(values)
    if n == 1:
        return Summary(1, mean, math.nan, math.nan, math.nan, math.nan)
    sd = statistics.stdev(values)
    se = sd / math.sqrt(n)
    t = _T95[n - 2] if n - 1 <= len(_T95) else 1.96
    return Summary(n, mean, sd, se, mean - t * se, mean + t * se)
