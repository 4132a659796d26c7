"""The synthetic data generator: faithful columns, realistic risk, documented drift, safe writes."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp
from sklearn.metrics import roc_auc_score

from creditscore_common.reference_schema import (
    DAYS_EMPLOYED_ANOMALY,
    ID_COLUMN,
    TARGET_COLUMN,
    ReferenceSchema,
    load_schema,
)
from training import generate as gen
from training.generate import GenerationSummary, generate

N_TRAIN = 60_000
N_NEW = 10_000
SEED = 3

BUILDING_CATEGORIES = (
    "FONDKAPREMONT_MODE",
    "HOUSETYPE_MODE",
    "WALLSMATERIAL_MODE",
    "EMERGENCYSTATE_MODE",
)


@dataclass
class Generated:
    summary: GenerationSummary
    train: pd.DataFrame
    new: pd.DataFrame
    truth: pd.DataFrame
    manifest: dict[str, object]
    out_dir: Path


@pytest.fixture(scope="module")
def schema() -> ReferenceSchema:
    return load_schema()


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    out = tmp_path_factory.mktemp("gen") / "data"
    summary = generate(out, n_train=N_TRAIN, n_new=N_NEW, seed=SEED)
    # keep_default_na=False + na_values=[""]: only empty cells are missing, as written.
    read = {"keep_default_na": False, "na_values": [""]}
    return Generated(
        summary=summary,
        train=pd.read_csv(out / "application_train.csv", **read),
        new=pd.read_csv(out / "application_test.csv", **read),
        truth=pd.read_csv(out / "truth.csv"),
        manifest=json.loads((out / "drift_manifest.json").read_text()),
        out_dir=out,
    )


def building_columns(schema: ReferenceSchema) -> list[str]:
    return [
        n for n in schema.application_names if n.endswith(("_AVG", "_MEDI")) or n.endswith("_MODE")
    ]


def drifted(data: Generated) -> set[str]:
    return {d["column"] for d in data.manifest["drift"]}  # type: ignore[attr-defined]


# -- shape and kinds ---------------------------------------------------------------------------


def test_files_have_the_schema_columns_in_order(data: Generated, schema: ReferenceSchema) -> None:
    assert list(data.train.columns) == list(schema.names)
    assert len(data.train.columns) == 122
    assert list(data.new.columns) == list(schema.new_client_names)
    assert len(data.new.columns) == 121
    assert list(data.truth.columns) == [ID_COLUMN, "TRUE_PROBABILITY"]
    assert len(data.train) == N_TRAIN and len(data.new) == N_NEW
    assert len(data.truth) == N_TRAIN + N_NEW
    assert sorted(p.name for p in data.out_dir.iterdir()) == sorted(gen.OUTPUT_FILES)


def test_summary_matches_the_files(data: Generated) -> None:
    s = data.summary
    assert (s.n_train, s.n_new, s.seed) == (N_TRAIN, N_NEW, SEED)
    assert s.default_rate == pytest.approx(data.train[TARGET_COLUMN].mean())
    p = data.truth.set_index(ID_COLUMN).loc[data.train[ID_COLUMN], "TRUE_PROBABILITY"]
    assert s.oracle_auc == pytest.approx(roc_auc_score(data.train[TARGET_COLUMN], p), abs=1e-6)
    assert set(s.drifted_columns) == drifted(data)
    assert s.seconds > 0


def test_kinds_and_levels(data: Generated, schema: ReferenceSchema) -> None:
    for spec in schema.columns:
        col = data.train[spec.name].dropna()
        if spec.kind == "categorical":
            assert set(col.unique()) <= set(spec.levels), spec.name
            shares = col.value_counts(normalize=True)
            for level, share in spec.levels.items():
                assert abs(shares.get(level, 0.0) - share) < 0.03, (spec.name, level)
        else:
            assert pd.api.types.is_numeric_dtype(col), spec.name
            if spec.kind == "flag":
                assert set(col.unique()) <= {0, 1}, spec.name
                assert abs(col.mean() - (spec.share_of_ones or 0.0)) < 0.02, spec.name
            elif spec.kind == "integer":
                assert (col == np.round(col)).all(), spec.name


def test_integers_are_written_without_decimals(data: Generated, schema: ReferenceSchema) -> None:
    raw = pd.read_csv(data.out_dir / "application_train.csv", dtype=str, nrows=3000)
    whole = [s.name for s in schema.columns if s.kind in ("integer", "flag")]
    for name in whole:
        text = raw[name].dropna()
        assert not text.str.contains(r"\.", regex=True).any(), name
    # Missing values are empty cells, nothing else.
    body = (data.out_dir / "application_train.csv").read_text().splitlines()[1:200]
    assert not any("nan" in line.lower().split(",") for line in body)


# -- marginals ---------------------------------------------------------------------------------


def test_missing_rates_match_the_reference(data: Generated, schema: ReferenceSchema) -> None:
    for spec in schema.columns:
        got = data.train[spec.name].isna().mean()
        assert abs(got - spec.missing_rate) <= 0.03, (spec.name, got, spec.missing_rate)
        if spec.name in schema.new_client_names and spec.name not in drifted(data):
            got_new = data.new[spec.name].isna().mean()
            assert abs(got_new - spec.missing_rate) <= 0.03, (spec.name, got_new)


def test_quantiles_match_the_reference(data: Generated, schema: ReferenceSchema) -> None:
    checked = 0
    for spec in schema.columns:
        # The reference IDs come from a skewed sample; ours spread over the real range.
        if spec.kind not in ("integer", "float") or spec.name == ID_COLUMN:
            continue
        width = spec.quantiles[0.99] - spec.quantiles[0.01]
        col = data.train[spec.name].dropna()
        for q in (0.05, 0.5, 0.95):
            got = col.quantile(q)
            assert abs(got - spec.quantiles[q]) <= 0.1 * width + 1e-9, (spec.name, q, got)
        checked += 1
    assert checked >= 70


# -- joint structure ---------------------------------------------------------------------------


def test_building_block_is_missing_together(data: Generated, schema: ReferenceSchema) -> None:
    block = building_columns(schema)
    assert len(block) == 47 and set(BUILDING_CATEGORIES) <= set(block)
    missing = data.train[block].isna()
    rate = missing.mean()
    least = rate.idxmin()
    # Whoever misses the least-missing column misses the whole block ...
    assert missing[missing[least]].all(axis=1).all()
    # ... and more generally missingness is nested by rate.
    order = rate.sort_values().index
    for looser, stricter in itertools.pairwise(order):
        assert (missing[stricter] | ~missing[looser]).all(), (looser, stricter)


def test_building_variants_of_one_measure_agree(data: Generated) -> None:
    for measure in ("APARTMENTS", "LIVINGAREA", "FLOORSMAX", "YEARS_BUILD"):
        cols = [f"{measure}_AVG", f"{measure}_MODE", f"{measure}_MEDI"]
        corr = data.train[cols].corr(method="spearman").to_numpy()
        assert corr.min() > 0.9, measure


def test_groups_missing_together(data: Generated) -> None:
    for prefix in ("AMT_REQ_CREDIT_BUREAU_", "_CNT_SOCIAL_CIRCLE"):
        cols = [c for c in data.train.columns if prefix in c]
        assert len(cols) >= 4
        missing = data.train[cols].isna()
        assert (missing.all(axis=1) == missing.any(axis=1)).all(), prefix
        assert missing.any(axis=1).mean() > 0
    no_car = data.train["FLAG_OWN_CAR"] == "N"
    assert (data.train["OWN_CAR_AGE"].isna() == no_car).all()
    for name, rate in (("EXT_SOURCE_1", 0.566), ("EXT_SOURCE_2", 0.003), ("EXT_SOURCE_3", 0.198)):
        assert abs(data.train[name].isna().mean() - rate) < 0.01, name


def test_days_employed_anomaly_marks_pensioners(data: Generated) -> None:
    df = data.train
    anomaly = df["DAYS_EMPLOYED"] == DAYS_EMPLOYED_ANOMALY
    assert abs(anomaly.mean() - 0.1796) < 0.01
    pensioner = df["NAME_INCOME_TYPE"].isin(["Pensioner", "Unemployed"])
    assert (anomaly == pensioner).all()
    assert (anomaly == (df["ORGANIZATION_TYPE"] == "XNA")).all()
    assert (anomaly == (df["FLAG_EMP_PHONE"] == 0)).all()
    assert df.loc[anomaly, "OCCUPATION_TYPE"].isna().mean() > 0.9
    assert df.loc[~anomaly, "OCCUPATION_TYPE"].isna().mean() < 0.3
    age = -df["DAYS_BIRTH"] / 365.25
    assert age[anomaly].median() > age[~anomaly].median() + 10
    assert (df.loc[~anomaly, "DAYS_EMPLOYED"] <= 0).all()


def test_relations_between_columns(data: Generated) -> None:
    df = data.train
    goods_ratio = (df["AMT_GOODS_PRICE"] / df["AMT_CREDIT"]).dropna()
    assert (goods_ratio <= 1.0).mean() > 0.8
    assert 0.8 < goods_ratio.median() < 1.0
    assert goods_ratio.between(0.5, 1.5).all()
    term = df["AMT_CREDIT"] / df["AMT_ANNUITY"]
    assert term.between(7.5, 46).all() and 15 < term.median() < 25
    assert (df["CNT_FAM_MEMBERS"] >= df["CNT_CHILDREN"] + 1).all()
    social = df.dropna(subset=["OBS_30_CNT_SOCIAL_CIRCLE"])
    assert (social["DEF_30_CNT_SOCIAL_CIRCLE"] <= social["OBS_30_CNT_SOCIAL_CIRCLE"]).all()
    assert (social["DEF_60_CNT_SOCIAL_CIRCLE"] <= social["OBS_60_CNT_SOCIAL_CIRCLE"]).all()
    same_rating = df["REGION_RATING_CLIENT"] == df["REGION_RATING_CLIENT_W_CITY"]
    assert same_rating.mean() > 0.85
    assert (df["DAYS_BIRTH"] < 0).all()
    for name in ("DAYS_REGISTRATION", "DAYS_ID_PUBLISH", "DAYS_LAST_PHONE_CHANGE"):
        assert (df[name] <= 0).all(), name
    assert (df["DAYS_REGISTRATION"] >= df["DAYS_BIRTH"]).all()
    ext = df[["EXT_SOURCE_1", "EXT_SOURCE_3", "DAYS_BIRTH"]].corr(method="spearman")
    assert ext.loc["EXT_SOURCE_1", "DAYS_BIRTH"] < -0.3  # older clients score higher


def test_ids_are_unique_and_disjoint(data: Generated) -> None:
    train_ids, new_ids = data.train[ID_COLUMN], data.new[ID_COLUMN]
    assert train_ids.is_unique and new_ids.is_unique
    assert not set(train_ids) & set(new_ids)
    assert train_ids.is_monotonic_increasing and new_ids.is_monotonic_increasing
    assert min(train_ids.min(), new_ids.min()) >= 100_001
    assert max(train_ids.max(), new_ids.max()) <= 456_255
    assert set(data.truth[ID_COLUMN]) == set(train_ids) | set(new_ids)


# -- risk --------------------------------------------------------------------------------------


def test_default_rate_is_the_reference_one(data: Generated) -> None:
    assert abs(data.train[TARGET_COLUMN].mean() - 0.0808) <= 0.005
    assert set(data.train[TARGET_COLUMN].unique()) == {0, 1}


def test_oracle_auc_is_realistic(data: Generated) -> None:
    truth = data.truth.set_index(ID_COLUMN)["TRUE_PROBABILITY"]
    p = truth.loc[data.train[ID_COLUMN]].to_numpy()
    assert ((p > 0) & (p < 1)).all()
    auc = roc_auc_score(data.train[TARGET_COLUMN], p)
    assert 0.76 <= auc <= 0.80
    # Every new client has a probability too.
    assert truth.loc[data.new[ID_COLUMN]].notna().all()


def test_risk_drivers_have_the_known_directions(data: Generated) -> None:
    df = data.train.assign(
        p=data.truth.set_index(ID_COLUMN).loc[data.train[ID_COLUMN], "TRUE_PROBABILITY"].to_numpy()
    )
    for name in ("EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3"):
        assert df[[name, "p"]].corr(method="spearman").iloc[0, 1] < -0.2, name
    young = df["DAYS_BIRTH"] > -30 * 365.25
    old = df["DAYS_BIRTH"] < -55 * 365.25
    assert df.loc[young, "TARGET"].mean() > 1.5 * df.loc[old, "TARGET"].mean()
    by = df.groupby("NAME_EDUCATION_TYPE")["p"].mean()
    assert by["Higher education"] < by["Secondary / secondary special"] < by["Lower secondary"]
    by = df.groupby("CODE_GENDER")["p"].mean()
    assert by["M"] > by["F"]
    by = df.groupby("REGION_RATING_CLIENT_W_CITY")["p"].mean()
    assert by[3] > by[2] > by[1]
    by = df.groupby("OCCUPATION_TYPE")["p"].mean()
    assert min(by["Laborers"], by["Drivers"]) > max(by["Accountants"], by["Managers"])


def test_probability_is_a_function_of_the_written_values(
    data: Generated, schema: ReferenceSchema
) -> None:
    # Rebuild the columns from the file alone: the logit of the true probability must be
    # an affine function of the documented risk score of those values, nothing hidden.
    df = data.train
    table = gen._Table(len(df))
    for name in schema.application_names:
        spec = schema[name]
        if spec.is_categorical:
            codes = pd.Categorical(df[name], categories=list(spec.levels)).codes
            table.cat[name] = codes.astype(np.int16)
        else:
            table.num[name] = df[name].to_numpy(dtype=np.float64)
    x = gen.risk_score(table, schema)
    p = data.truth.set_index(ID_COLUMN).loc[df[ID_COLUMN], "TRUE_PROBABILITY"].to_numpy()
    logit = np.log(p / (1 - p))
    slope, intercept = np.polyfit(x, logit, 1)
    residual = logit - (slope * x + intercept)
    assert slope > 0
    assert np.abs(residual).max() < 1e-3


# -- drift -------------------------------------------------------------------------------------


def test_manifest_documents_the_drift(data: Generated) -> None:
    m = data.manifest
    assert (m["seed"], m["n_train"], m["n_new"]) == (SEED, N_TRAIN, N_NEW)
    entries = m["drift"]
    assert isinstance(entries, list) and 3 <= len(entries) <= 5
    for entry in entries:
        assert set(entry) == {"column", "kind", "parameters", "description"}
        assert entry["column"] in load_schema().new_client_names
        assert entry["parameters"] and len(entry["description"]) > 20


def test_drifted_columns_are_shifted(data: Generated) -> None:
    train, new = data.train, data.new
    params = {d["column"]: d["parameters"] for d in data.manifest["drift"]}  # type: ignore[attr-defined]
    assert set(params) == {"AMT_CREDIT", "DAYS_BIRTH", "NAME_CONTRACT_TYPE", "EXT_SOURCE_3"}
    ratio = new["AMT_CREDIT"].median() / train["AMT_CREDIT"].median()
    assert ratio == pytest.approx(params["AMT_CREDIT"]["factor"], abs=0.04)
    ratio = new["DAYS_BIRTH"].mean() / train["DAYS_BIRTH"].mean()
    assert ratio == pytest.approx(params["DAYS_BIRTH"]["factor"], abs=0.015)
    level = params["NAME_CONTRACT_TYPE"]["level"]
    assert (train["NAME_CONTRACT_TYPE"] == level).mean() == pytest.approx(0.0972, abs=0.01)
    assert (new["NAME_CONTRACT_TYPE"] == level).mean() == pytest.approx(
        params["NAME_CONTRACT_TYPE"]["new_share"], abs=0.015
    )
    assert new["EXT_SOURCE_3"].isna().mean() == pytest.approx(
        params["EXT_SOURCE_3"]["new_rate"], abs=0.015
    )
    for name in ("AMT_CREDIT", "DAYS_BIRTH"):
        assert ks_2samp(train[name], new[name]).statistic > 0.03, name
    # Younger, yet never registered, employed or given an ID before being old enough.
    assert (new["DAYS_REGISTRATION"] >= new["DAYS_BIRTH"]).all()
    assert (new["DAYS_ID_PUBLISH"] >= new["DAYS_BIRTH"] + 14 * 365.25).all()
    employed = new["DAYS_EMPLOYED"] != DAYS_EMPLOYED_ANOMALY
    assert (
        new.loc[employed, "DAYS_EMPLOYED"] >= new.loc[employed, "DAYS_BIRTH"] + 16 * 365.25
    ).all()


def test_other_columns_are_not_shifted(data: Generated, schema: ReferenceSchema) -> None:
    shifted = drifted(data)
    for name in schema.new_client_names:
        if name in shifted or name == ID_COLUMN:
            continue
        a, b = data.train[name], data.new[name]
        if schema[name].is_categorical:
            sa, sb = a.value_counts(normalize=True), b.value_counts(normalize=True)
            assert (sa - sb.reindex(sa.index, fill_value=0)).abs().max() < 0.02, name
        else:
            a, b = a.dropna(), b.dropna()
            if len(a) > 1000 and len(b) > 1000:
                assert ks_2samp(a, b).statistic < 0.03, name


# -- determinism and safe writes ---------------------------------------------------------------


def _bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    generate(tmp_path / "a", n_train=3000, n_new=500, seed=11)
    generate(tmp_path / "b", n_train=3000, n_new=500, seed=11, progress=True)
    generate(tmp_path / "c", n_train=3000, n_new=500, seed=12)
    a, b, c = _bytes(tmp_path / "a"), _bytes(tmp_path / "b"), _bytes(tmp_path / "c")
    assert a == b
    assert len(a) == 4
    for name in ("application_train.csv", "application_test.csv", "truth.csv"):
        assert a[name] != c[name], name


def test_failed_write_leaves_previous_outputs_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A folder of its own: other fixtures may put files directly in tmp_path.
    parent = tmp_path / "outputs"
    out = parent / "data"
    out.mkdir(parents=True)
    (out / "application_train.csv").write_text("old contents\n")
    calls = {"n": 0}
    real_write = gen._write_csv

    def failing_write(table: object, path: Path) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            path.write_text("half a file")
            raise OSError("disk full")
        real_write(table, path)  # type: ignore[arg-type]

    monkeypatch.setattr(gen, "_write_csv", failing_write)
    with pytest.raises(OSError, match="disk full"):
        generate(out, n_train=500, n_new=100, seed=1)
    assert calls["n"] >= 2  # the writers run two at a time
    assert sorted(p.name for p in out.iterdir()) == ["application_train.csv"]
    assert (out / "application_train.csv").read_text() == "old contents\n"
    # No temporary folder is left beside the output folder.
    assert sorted(p.name for p in parent.iterdir()) == ["data"]

    fresh = parent / "fresh"
    calls["n"] = 0
    with pytest.raises(OSError):
        generate(fresh, n_train=500, n_new=100, seed=1)
    assert sorted(p.name for p in parent.iterdir()) == ["data"]


def test_rejects_impossible_sizes(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate(tmp_path / "x", n_train=10, n_new=10)
    with pytest.raises(ValueError):
        generate(tmp_path / "x", n_train=1000, n_new=-1)
