"""Reads an HdrHistogram interval log with Python's `hdrhistogram` package (an independent
reader), adding up the histograms of each kind: those whose tag ends in `-uncorrected`, and
the others.

    hlog_read.py FILE...

prints one JSON object: `count`, `p50_us`, `p99_us` and `max_us` of the corrected histograms
of every file added together, `intervals` (how many), and `uncorrected_count`.
"""

import json
import sys

from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader


def main(paths):
    corrected = HdrHistogram(1, 60_000_000_000, 3)
    uncorrected = HdrHistogram(1, 60_000_000_000, 3)
    intervals = 0
    for path in paths:
        reader = HistogramLogReader(path, HdrHistogram(1, 60_000_000_000, 3))
        while True:
            histogram = reader.get_next_interval_histogram()
            if histogram is None:
                break
            tag = histogram.get_tag() or ""
            if tag.endswith("-uncorrected"):
                uncorrected.add(histogram)
            else:
                corrected.add(histogram)
                intervals += 1
    us = lambda ns: ns / 1000.0  # noqa: E731
    print(json.dumps({
        "count": corrected.get_total_count(),
        "p50_us": us(corrected.get_value_at_percentile(50)),
        "p99_us": us(corrected.get_value_at_percentile(99)),
        "max_us": us(corrected.get_max_value()),
        "intervals": intervals,
        "uncorrected_count": uncorrected.get_total_count(),
    }))


if __name__ == "__main__":
    main(sys.argv[1:])
