"""The DLP benchmark on a small sample: the predefined profiles meet their detection and
false-positive targets on a corpus drawn with another seed, and the report is built (no timing
is asserted)."""

from __future__ import annotations

import random

from benchmarks.dlp import DETECTION_TARGET, FP_TARGET, Timing, evaluate, latency, linear, report
from benchmarks.dlp_corpus import BENIGN_KINDS, FINANCIAL, SECRET_KINDS, SECRETS, benign, positives


def test_predefined_profiles_meet_the_targets_on_a_small_sample() -> None:
    ev = evaluate(per_kind=4, benign_count=240, seed=7)
    assert sum(ev.total.values()) >= 100 and sum(ev.benign_total.values()) == 240
    missed = {k: ev.total[k] - ev.found[k] for k in ev.total if ev.found[k] < ev.total[k]}
    assert ev.detection() >= DETECTION_TARGET, missed
    assert ev.detection(SECRETS) >= DETECTION_TARGET and ev.detection(FINANCIAL) >= DETECTION_TARGET
    assert ev.fp_rate() <= FP_TARGET, dict(ev.false_positives)


def test_corpus_covers_every_kind_and_a_thousand_benign_arguments() -> None:
    rng = random.Random(1)
    kinds = {s.kind for s in positives(rng, 1)}
    assert set(SECRET_KINDS) <= kinds and {"secret_field", "card_number", "iban"} <= kinds
    samples = benign(rng, 1000)
    assert len(samples) == 1000 and {s.kind for s in samples} == set(BENIGN_KINDS)
    assert all(s.profile is None for s in samples)


def test_report_is_built() -> None:
    ev = evaluate(per_kind=1, benign_count=16, seed=3)
    timings = latency((1, 4), budget_s=0.0)
    assert [t.size_kb for t in timings] == [1, 4] and all(t.calls >= 20 for t in timings)
    text = report(ev, timings, "0.0 0.0 0.0")
    assert "| detection >= 99% |" in text and "| github_token |" in text
    assert linear([Timing(2, 1, 2.0, 2.0, 2.0), Timing(8, 1, 8.0, 8.0, 8.0)])
    assert not linear([Timing(2, 1, 2.0, 2.0, 2.0), Timing(8, 1, 80.0, 80.0, 80.0)])
