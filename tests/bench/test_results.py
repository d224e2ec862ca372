"""Every scenario's samples carry the load average around them, and the report shows p50, p95 and that load."""

from tests.bench import suite
from tests.bench.scenarios import Result, repeat


class FakeBench:
    def __init__(self, results):
        self.results = results


def test_every_sample_records_the_load_average_before_and_after_it():
    result = Result("preview aggregate", "ms", 300)
    calls = []

    repeat(result, lambda: calls.append(1), repeats=7)

    assert len(calls) == 8  # one warm-up, then 7 samples
    assert len(result.samples) == len(result.loads) == 7
    assert min(min(pair) for pair in result.loads) >= 0
    assert result.as_dict()["load_avg_1m_per_sample"] == [list(pair) for pair in result.loads]


def test_the_report_gives_p50_p95_and_the_load_range_per_scenario():
    result = Result("preview aggregate", "ms", 300)
    for ms, before, after in [(10, 0.5, 0.6), (30, 3.0, 3.5), (20, 0.7, 0.8), (40, 1.0, 1.0), (50, 1.2, 1.1)]:
        result.samples.append(ms)
        result.loads.append((before, after))

    table = suite._table(FakeBench([result]))

    assert "| preview aggregate | 5 | 30.0 | 50.0 | 30.0 ms | ≤ 300 ms | yes | 0.5 to 3.5 |" in table
