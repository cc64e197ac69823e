"""calib-eval results file (schema in calib_eval.results) -> leaderboard rows."""
from __future__ import annotations

from calib_eval.leaderboard.records import (
    Bins,
    Estimate,
    Row,
    adapter_label,
    display_model_name,
    iso_utc,
    parse_time,
)
from calib_eval.leaderboard.table import EXTRA_METRICS
from calib_eval.provenance import stale_reason

ORIGIN = "calib-eval"


def rows_from_results(payload: dict, source: str) -> list[Row]:
    """One row per scorer of a validated results payload (see `read_results`)."""
    common = dict(
        model=model_name(payload),
        task=str(payload["task"]),
        accuracy=Estimate.parse(payload.get("accuracy")),
        n=_int_or_none(payload.get("n")),
        hardware=str(payload.get("hardware") or ""),
        created=iso_utc(parse_time(payload["created"])),
        package_version=str(payload.get("package_version") or ""),
        origin=ORIGIN,
        source=source,
        stale=stale_reason(payload) is not None,
    )
    return [_scorer_row(name, entry, common) for name, entry in sorted(payload["scorers"].items())]


def model_name(payload: dict) -> str:
    """The leaderboard's name for the payload's model (zoo aliases resolved)."""
    model = payload["model"]
    return display_model_name(str(model.get("name") if isinstance(model, dict) else model))


def describe(payload: dict) -> str:
    """`<model>__<task>`: a readable stem for the stored copy."""
    return f"{model_name(payload)}__{payload['task']}"


def _scorer_row(name: str, entry: dict, common: dict) -> Row:
    adapter = entry.get("adapter") or {}
    return Row(
        adapter=adapter_label(adapter.get("path")),
        adapter_method=adapter.get("method"),
        scorer=name,
        ece=Estimate.parse(entry.get("ece")),
        auroc=Estimate.parse(entry.get("auroc")),
        brier=Estimate.parse(entry.get("brier")),
        aurc=Estimate.parse(entry.get("aurc")),
        is_probability=bool(entry.get("is_probability", True)),
        calibration=str(entry.get("calibration") or "none"),
        reliability=Bins.parse(entry.get("reliability")),
        note=str(entry.get("note") or ""),
        **_extended(entry),
        **common,
    )


def _extended(entry: dict) -> dict:
    """Row.extended and Row.abstain_setting from a scorer entry (older files: empty)."""
    extended = {name: Estimate.parse(entry.get(name)) for name in EXTRA_METRICS if name != "abstain_coverage"}
    record = entry.get("conformal_abstention")
    if not isinstance(record, dict):
        return {"extended": extended}
    extended["abstain_coverage"] = Estimate.parse(record.get("coverage"))
    risk = record.get("risk")
    setting = f"\u03b1={record.get('alpha')} \u03b4={record.get('delta')}, test risk " + (
        "\u2013" if risk is None else f"{float(risk):.3f}")
    return {"extended": extended, "abstain_setting": setting}


def _int_or_none(value) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None
