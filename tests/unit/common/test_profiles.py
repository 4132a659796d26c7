"""Comparison profiles: one record must give exactly what the batch gives, in human units."""

from __future__ import annotations

import hashlib
import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from creditscore_common import profiles
from creditscore_common.features import DAYS_PER_YEAR
from creditscore_common.profiles import (
    FEATURE_NAMES,
    GROUP_NAMES,
    ProfileIntegrityError,
    build_reference_profiles,
    client_groups,
    client_profile,
    group_codes,
    profile_columns,
    read_reference_profiles,
    write_reference_profiles,
)
from creditscore_common.reference_schema import DAYS_EMPLOYED_ANOMALY
from creditscore_common.version import PROFILES_FILE
from training.data import ApplicationTable, load_reference_and_new

N_PARITY_CLIENTS = 300


@pytest.fixture(scope="module")
def tables(small_data_dir: Path) -> tuple[ApplicationTable, ApplicationTable]:
    return load_reference_and_new(small_data_dir)


def column(name: str) -> int:
    return FEATURE_NAMES.index(name)


def test_one_record_gives_exactly_the_batch_row(
    tables: tuple[ApplicationTable, ApplicationTable],
) -> None:
    new = tables[1]
    batch = profile_columns(new.columns)
    codes = group_codes(new.columns)
    assert batch.dtype == np.float32 and batch.shape == (new.n_rows, len(FEATURE_NAMES))
    assert codes.dtype == np.int8 and codes.shape == (new.n_rows, len(GROUP_NAMES))
    for row in range(min(N_PARITY_CLIENTS, new.n_rows)):
        record = new.record(row)
        one = client_profile(record)
        assert one.dtype == np.float32
        np.testing.assert_array_equal(one, batch[row])  # NaN == NaN here, bit for bit
        # The store keeps records as JSON without missing values: same answer.
        present = {k: v for k, v in record.items() if v is not None}
        np.testing.assert_array_equal(client_profile(present), batch[row])
        slugs = client_groups(record)
        for j, dimension in enumerate(profiles.GROUP_DIMENSIONS):
            expected = None if codes[row, j] < 0 else dimension.slugs[codes[row, j]]
            assert slugs[dimension.name] == expected


def test_human_units_by_hand() -> None:
    record: dict[str, Any] = {
        "DAYS_BIRTH": -36525.0 / 2,  # 50 years
        "DAYS_EMPLOYED": -365.25 * 4,
        "AMT_INCOME_TOTAL": 200000.0,
        "AMT_CREDIT": 500000.0,
        "AMT_ANNUITY": 25000.0,
        "AMT_GOODS_PRICE": 400000.0,
        "CNT_FAM_MEMBERS": 4.0,
        "EXT_SOURCE_1": 0.2,
        "EXT_SOURCE_3": 0.6,
    }
    values = client_profile(record)

    def value(name: str) -> float:
        return float(values[column(name)])

    assert value("AGE_YEARS") == pytest.approx(50.0)
    assert value("YEARS_EMPLOYED") == pytest.approx(4.0)
    assert value("CREDIT_INCOME_RATIO") == pytest.approx(2.5)
    assert value("ANNUITY_INCOME_RATIO") == pytest.approx(0.125)
    assert value("ANNUITY_CREDIT_RATIO") == pytest.approx(0.05)
    assert value("CREDIT_GOODS_RATIO") == pytest.approx(1.25)
    assert value("INCOME_PER_FAMILY_MEMBER") == pytest.approx(50000.0)
    assert value("EXT_SOURCE_MEAN") == pytest.approx(0.4)  # mean of the known ones only
    assert math.isnan(value("EXT_SOURCE_2"))
    assert math.isnan(value("CNT_CHILDREN"))


def test_no_employment_and_impossible_ratios_are_missing() -> None:
    values = client_profile(
        {"DAYS_EMPLOYED": DAYS_EMPLOYED_ANOMALY, "AMT_INCOME_TOTAL": 0.0, "AMT_CREDIT": 1.0}
    )
    assert math.isnan(values[column("YEARS_EMPLOYED")])
    assert math.isnan(values[column("CREDIT_INCOME_RATIO")])  # income 0: no ratio, no inf


def test_an_empty_or_odd_record_gives_missing_values_not_errors() -> None:
    empty = client_profile({})
    assert empty.shape == (len(FEATURE_NAMES),) and np.isnan(empty).all()
    assert client_groups({}) == {name: None for name in GROUP_NAMES}
    odd = client_profile({"AMT_CREDIT": "a lot", "DAYS_BIRTH": None, "CODE_GENDER": 3})
    assert np.isnan(odd).all()
    assert client_groups({"CODE_GENDER": "XNA", "NAME_CONTRACT_TYPE": 7})["gender"] is None


@pytest.mark.parametrize(
    ("years", "band"),
    [(18.0, "under_25"), (24.99, "under_25"), (25.0, "25_35"), (44.9, "35_45"),
     (64.99, "55_65"), (65.0, "65_plus"), (90.0, "65_plus")],
)  # fmt: skip
def test_age_bands(years: float, band: str) -> None:
    assert client_groups({"DAYS_BIRTH": -years * DAYS_PER_YEAR})["age_band"] == band


def test_group_levels_are_the_raw_values() -> None:
    record = {
        "CODE_GENDER": "M",
        "NAME_CONTRACT_TYPE": "Revolving loans",
        "NAME_INCOME_TYPE": "State servant",
        "NAME_EDUCATION_TYPE": "Higher education",
    }
    groups = client_groups(record)
    assert groups["gender"] == "male"
    assert groups["contract_type"] == "revolving"
    assert groups["income_type"] == "state_servant"
    assert groups["education"] == "higher"


def test_reference_file_round_trips_without_ids(
    tables: tuple[ApplicationTable, ApplicationTable], tmp_path: Path
) -> None:
    reference = tables[0]
    assert reference.target is not None
    built = build_reference_profiles(reference.columns, reference.target)
    assert built.values.dtype == np.float32 and built.target.dtype == np.int8
    assert built.groups.dtype == np.int8 and built.n_clients == reference.n_rows
    path = tmp_path / PROFILES_FILE
    write_reference_profiles(path, built)
    with np.load(io.BytesIO(path.read_bytes()), allow_pickle=False) as arrays:
        names = set(arrays.files)
        assert not any("SK_ID" in n for n in names)
        assert not any(np.array_equal(arrays[n], reference.ids) for n in names)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    loaded = read_reference_profiles(tmp_path, {PROFILES_FILE: digest})
    np.testing.assert_array_equal(loaded.values, built.values)
    np.testing.assert_array_equal(loaded.target, reference.target)
    np.testing.assert_array_equal(loaded.groups, group_codes(reference.columns))
    assert loaded.feature_names == FEATURE_NAMES
    assert loaded.group_levels["gender"] == ("female", "male")


def test_reference_file_is_refused_when_altered_or_unrecorded(
    tables: tuple[ApplicationTable, ApplicationTable], tmp_path: Path
) -> None:
    reference = tables[0]
    assert reference.target is not None
    path = tmp_path / PROFILES_FILE
    write_reference_profiles(path, build_reference_profiles(reference.columns, reference.target))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(ProfileIntegrityError, match="records no"):
        read_reference_profiles(tmp_path, {})
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ProfileIntegrityError, match="sha256"):
        read_reference_profiles(tmp_path, {PROFILES_FILE: digest})


def test_targets_must_match_the_clients() -> None:
    with pytest.raises(ValueError, match="targets"):
        build_reference_profiles({"AMT_CREDIT": np.ones(3)}, np.zeros(2, dtype=np.int8))
