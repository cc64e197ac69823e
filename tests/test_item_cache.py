"""Item caches survive new settings at their defaults, and nothing else."""
from __future__ import annotations

import json

from calib_eval.runner.item_cache import ItemCache, signatures_match

DEFAULTS = {"scorer_config": {"k": 10, "mode": "paper"}}
CURRENT = {"model": "m", "scorers": ["a"], "scorer_config": {"k": 10, "mode": "paper"}}


def test_equal_signatures_match():
    assert signatures_match(CURRENT, CURRENT, DEFAULTS)


def test_a_setting_added_at_its_default_matches():
    cached = {"model": "m", "scorers": ["a"], "scorer_config": {"k": 10}}
    assert signatures_match(cached, CURRENT, DEFAULTS)


def test_a_setting_added_away_from_its_default_does_not():
    cached = {"model": "m", "scorers": ["a"], "scorer_config": {"k": 10}}
    assert not signatures_match(cached, {**CURRENT, "scorer_config": {"k": 10, "mode": "shared-cache"}}, DEFAULTS)


def test_changed_or_removed_settings_do_not_match():
    assert not signatures_match({**CURRENT, "model": "other"}, CURRENT, DEFAULTS)
    assert not signatures_match({**CURRENT, "scorer_config": {"k": 5, "mode": "paper"}}, CURRENT, DEFAULTS)
    assert not signatures_match({**CURRENT, "gone": 1}, CURRENT, DEFAULTS)
    assert not signatures_match({"model": "m", "scorer_config": {"k": 10}}, CURRENT, DEFAULTS)  # scorers: no default


def test_cache_written_before_a_new_option_keeps_its_rows(tmp_path):
    path = tmp_path / "items.partial.jsonl"
    old = {"model": "m", "scorers": ["a"], "scorer_config": {"k": 10}}
    path.write_text(json.dumps({"signature": old}) + "\n" + json.dumps({"id": "q1", "correct": True}) + "\n")
    assert set(ItemCache(path, CURRENT, DEFAULTS).rows) == {"q1"} and path.exists()
    moved = ItemCache(path, {**CURRENT, "model": "other"}, DEFAULTS)
    assert moved.rows == {} and path.with_suffix(".stale.jsonl").exists()
