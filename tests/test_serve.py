"""The scoring API (``cc-segmentation serve``), over real HTTP on 127.0.0.1.

Each server is uvicorn in a thread of this process, on a free port, serving
a copy of a session build.  The answers are checked against a numpy
assignment computed here from the warehouse's stored fit state (impute
values, transforms, means, standard deviations, centroids, temperature),
and against ``scoring.score`` row for row; errors against messages written
out by hand.  The first tests need no warehouse and are quick.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest
import uvicorn
from conftest import FREQUENCIES, REPO
from numpy.testing import assert_allclose, assert_array_equal
from pydantic import TypeAdapter, ValidationError

from cc_segmentation import RAW_COLUMNS, sql_literal
from cc_segmentation.apps.scoring import Scorer, score
from cc_segmentation.apps.serve import Customer, ScoreBody, ScoredCustomer, create_app

slow = pytest.mark.slow
HEADER = ",".join(RAW_COLUMNS)
RANKS = ["", "second_", "third_"]  # score()'s column prefixes, nearest first


# -- quick: the request model -------------------------------------------------


def customer(**values: Any) -> dict[str, Any]:
    """A valid request customer (made-up values), with ``values`` changed."""
    row: dict[str, Any] = {
        "CUST_ID": "T1",
        "BALANCE": 1200.5,
        "BALANCE_FREQUENCY": 1,
        "PURCHASES": 450.0,
        "ONEOFF_PURCHASES": 150.0,
        "INSTALLMENTS_PURCHASES": 300.0,
        "CASH_ADVANCE": 0,
        "PURCHASES_FREQUENCY": 0.5,
        "ONEOFF_PURCHASES_FREQUENCY": 0.083333,
        "PURCHASES_INSTALLMENTS_FREQUENCY": 0.416667,
        "CASH_ADVANCE_FREQUENCY": 0,
        "CASH_ADVANCE_TRX": 0,
        "PURCHASES_TRX": 8,
        "CREDIT_LIMIT": 3000,
        "PAYMENTS": 800.25,
        "MINIMUM_PAYMENTS": 200.0,
        "PRC_FULL_PAYMENT": 0,
        "TENURE": 12,
    }
    row.update(values)
    return row


def test_a_json_value_becomes_the_text_a_raw_file_would_hold():
    parsed = Customer.model_validate(
        customer(BALANCE=1e-7, PURCHASES=12, PAYMENTS="NA", MINIMUM_PAYMENTS=None)
    )
    assert parsed.BALANCE == "1e-07"
    assert parsed.PURCHASES == "12"
    assert parsed.PAYMENTS == "NA"  # text: the pipeline says it is not a number
    assert parsed.MINIMUM_PAYMENTS is None  # missing
    assert parsed.CREDIT_LIMIT == "3000"
    assert parsed.ONEOFF_PURCHASES_FREQUENCY == "0.083333"


@pytest.mark.parametrize("value", [True, {"x": 1}, [1]], ids=["bool", "object", "list"])
def test_a_value_of_another_json_type_is_an_error_naming_the_field(value):
    with pytest.raises(ValidationError) as raised:
        Customer.model_validate(customer(TENURE=value))
    (error,) = raised.value.errors()
    assert error["loc"] == ("TENURE",)
    assert error["msg"].startswith("must be a number, a string or null, not ")


def test_the_body_is_one_customer_or_a_list():
    body = TypeAdapter(ScoreBody)
    assert isinstance(body.validate_python(customer()), Customer)
    many = body.validate_python([customer(), customer(CUST_ID="T2")])
    assert [c.CUST_ID for c in many] == ["T1", "T2"]


# -- helpers ------------------------------------------------------------------


@contextmanager
def serving(warehouse: Path, **options: Any) -> Iterator[str]:
    """uvicorn serving ``create_app(warehouse)`` on 127.0.0.1, a free port;
    yields its base URL and stops it at the end."""
    config = uvicorn.Config(
        create_app(warehouse, **options),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        assert not thread.is_alive()


def call(
    url: str, body: Any = None, *, content_type: str = "application/json"
) -> tuple[int, Any]:
    """GET ``url``, or POST ``body`` (JSON, or bytes as they are): the status
    and the decoded answer (JSON, else text)."""
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            status, raw, kind = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, raw, kind = error.code, error.read(), error.headers
    if kind.get_content_type() == "application/json":
        return status, json.loads(raw)
    return status, raw.decode()


@dataclass
class FitState:
    """A warehouse's stored fit state, read here with plain SQL."""

    model_id: str
    scaling: pd.DataFrame  # one row per feature, in model order
    centroids: np.ndarray  # k × features, rows in segment-id order
    segment_ids: np.ndarray
    segment_names: dict[int, str]
    temperature: float


def read_fit_state(warehouse: Path) -> FitState:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        scaling = con.execute(
            "select * from feature_scaling order by feature_position"
        ).df()
        centroids = con.execute(
            "select model_id, segment_id, feature_position, centroid_z "
            "from segment_centroids order by segment_id, feature_position"
        ).df()
        (model_id,) = centroids.model_id.unique()
        names = con.execute("select segment_id, segment_name from segments").fetchall()
        ((temperature,),) = con.execute(
            "select membership_temperature from segmentation_models where model_id = ?",
            [model_id],
        ).fetchall()
    matrix = centroids.pivot(
        index="segment_id", columns="feature_position", values="centroid_z"
    )
    assert list(matrix.columns) == list(scaling.feature_position)
    return FitState(
        model_id=model_id,
        scaling=scaling,
        centroids=matrix.to_numpy(),
        segment_ids=matrix.index.to_numpy(),
        segment_names=dict(names),
        temperature=temperature,
    )


def numpy_scores(raw: pd.DataFrame, state: FitState) -> dict[str, np.ndarray]:
    """Segments of ``raw`` (the raw columns as floats, NaN = missing) by the
    documented rule, in numpy: frequencies capped at 1, missing values
    imputed, log1p where stored, z-scores, Euclidean distance to every
    centroid, nearest first (ties to the lower id), soft membership
    softmax(-d² / T)."""
    scaling = state.scaling
    values = raw[list(scaling.raw_column)].astype(float).copy()
    capped = [c for c in values.columns if c in FREQUENCIES]
    values[capped] = values[capped].clip(upper=1.0)
    values = values.fillna(
        dict(zip(scaling.raw_column, scaling.impute_value, strict=True))
    )
    matrix = values.to_numpy()
    log = (scaling["transform"] == "log1p").to_numpy()
    matrix[:, log] = np.log1p(matrix[:, log])
    # clipped to the fit's bounds (NaN: no bound)
    low = scaling.clip_low.to_numpy(dtype=float)
    high = scaling.clip_high.to_numpy(dtype=float)
    matrix = np.clip(
        matrix, np.nan_to_num(low, nan=-np.inf), np.nan_to_num(high, nan=np.inf)
    )
    stddev = np.where(scaling.stddev.to_numpy() == 0, 1.0, scaling.stddev.to_numpy())
    z = (matrix - scaling["mean"].to_numpy()) / stddev
    distances = np.sqrt(((z[:, None, :] - state.centroids[None]) ** 2).sum(axis=2))
    order = np.argsort(distances, axis=1, kind="stable")[:, :3]
    nearest = np.take_along_axis(distances, order, axis=1)
    logits = -(distances**2) / state.temperature
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities = weights / weights.sum(axis=1, keepdims=True)
    return {
        "segment_ids": state.segment_ids[order],
        "distances": nearest,
        "probabilities": np.take_along_axis(probabilities, order, axis=1),
        "confidence": (nearest[:, 1] - nearest[:, 0]) / nearest[:, 1],
    }


def as_json_rows(raw: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of floats (NaN = missing) as request customers (null = missing)."""
    rows = raw[list(RAW_COLUMNS)].astype(object).where(raw.notna(), None)
    return rows.to_dict("records")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- fixtures -----------------------------------------------------------------


@pytest.fixture(scope="module")
def served_copy(real_build, tmp_path_factory) -> Path:
    """A copy of the real build's warehouse, for the shared server."""
    folder = tmp_path_factory.mktemp("serve")
    return Path(shutil.copy2(real_build.warehouse, folder / "segmentation.duckdb"))


@pytest.fixture(scope="module")
def api(served_copy) -> Iterator[str]:
    with serving(served_copy) as url:
        yield url


@pytest.fixture(scope="module")
def real_state(served_copy) -> FitState:
    return read_fit_state(served_copy)


@pytest.fixture(scope="module")
def real_floats(real_csv) -> pd.DataFrame:
    return pd.read_csv(real_csv)


# -- answers ------------------------------------------------------------------


@slow
def test_answers_equal_the_numpy_assignment_from_the_stored_fit_state(
    api, real_state, real_floats
):
    status, answers = call(f"{api}/score", as_json_rows(real_floats))
    assert status == 200
    assert len(answers) == len(real_floats) == 8950
    expected = numpy_scores(real_floats, real_state)
    assert [a["rejection_reason"] for a in answers] == [None] * len(answers)
    assert [a["cust_id"] for a in answers] == real_floats.CUST_ID.tolist()
    assert [a["input_row_number"] for a in answers] == list(range(1, 8951))
    got_ids = np.array([[t["segment_id"] for t in a["top_segments"]] for a in answers])
    assert_array_equal(
        [a["segment_id"] for a in answers], expected["segment_ids"][:, 0]
    )
    assert_array_equal(got_ids, expected["segment_ids"])
    got_probabilities = [[t["probability"] for t in a["top_segments"]] for a in answers]
    assert_allclose(got_probabilities, expected["probabilities"], rtol=1e-9, atol=1e-15)
    assert_allclose(
        [a["distance_to_centroid"] for a in answers],
        expected["distances"][:, 0],
        rtol=1e-9,
    )
    assert_allclose(
        [a["confidence"] for a in answers],
        expected["confidence"],
        rtol=1e-9,
        atol=1e-12,
    )
    for a in answers[:50]:
        assert a["segment_name"] == real_state.segment_names[a["segment_id"]]
        assert a["model_id"] == real_state.model_id
        assert len(a["reasons"]) == 3 and a["crm_action"]["objective"]
    TypeAdapter(list[ScoredCustomer]).validate_python(answers)  # the documented shape


def assert_same_as_score(answers: list[dict[str, Any]], scored: pd.DataFrame) -> None:
    """Every field of the API's answers equals ``scoring.score``'s column."""
    assert len(answers) == len(scored)
    frame = scored.astype(object).where(scored.notna(), None)
    for answer, (_, row) in zip(answers, frame.iterrows(), strict=True):
        flat = {
            "input_row_number": answer["input_row_number"],
            "cust_id": answer["cust_id"],
            "model_id": answer["model_id"],
            "rejection_reason": answer["rejection_reason"],
            "segment_id": answer["segment_id"],
            "segment_name": answer["segment_name"],
            "distance_to_centroid": answer["distance_to_centroid"],
            "confidence": answer["confidence"],
            "probability": answer["probability"],
            "is_distance_anomaly": answer["is_distance_anomaly"],
        }
        for rank, top in zip(RANKS, answer["top_segments"], strict=False):
            flat[f"{rank}segment_id"] = top["segment_id"]
            flat[f"{rank}segment_name"] = top["segment_name"]
            flat[f"{rank}probability"] = top["probability"]
        for i, reason in enumerate(answer["reasons"], start=1):
            flat[f"reason_{i}_feature"] = reason["feature"]
            flat[f"reason_{i}_direction"] = reason["direction"]
        for key, value in (answer["crm_action"] or {}).items():
            flat["risk_note" if key == "risk_note" else f"crm_{key}"] = value
        assert flat == {key: row[key] for key in flat}, row["cust_id"]
        # what the answer leaves out is NULL in score(): a rejected row's
        # segment, or a third reason when only two features pull
        left_out = [key for key in row.index if key not in flat]
        assert [row[key] for key in left_out] == [None] * len(left_out)


@slow
def test_the_csv_and_json_answers_equal_scoring_score_row_for_row(
    api, served_copy, real_csv
):
    by_score = score(served_copy, real_csv)
    status, answers = call(
        f"{api}/score/csv", real_csv.read_bytes(), content_type="text/csv"
    )
    assert status == 200
    assert_same_as_score(answers, by_score)

    text = pd.read_csv(real_csv, dtype=str, keep_default_na=False)
    status, answers = call(f"{api}/score", text.to_dict("records"))
    assert status == 200
    assert_same_as_score(answers, score(served_copy, text))


@slow
def test_rows_the_pipeline_would_quarantine_come_back_with_its_reason(api):
    rows = [
        customer(CUST_ID="OK"),
        customer(CUST_ID="WORD", BALANCE="lots"),
        customer(CUST_ID="NEG", CASH_ADVANCE=-5),
        customer(CUST_ID="TEN", TENURE=40),
        customer(CUST_ID="TWICE"),
        customer(CUST_ID="TWICE", BALANCE=1),
        customer(CUST_ID=None),
        customer(CUST_ID="GAPS", **{c: None for c in RAW_COLUMNS[1:6]}),
    ]
    status, answers = call(f"{api}/score", rows)
    assert status == 200
    assert [a["rejection_reason"] for a in answers] == [
        None,
        "balance is not a number: lots",
        "cash_advance is negative: -5",
        "tenure is not a whole number of months in 1-12: 40",
        "cust_id TWICE appears 2 times",
        "cust_id TWICE appears 2 times",
        "cust_id is missing",
        "5 of 17 measures are missing (more than 3 cannot be imputed)",
    ]
    assert answers[0]["segment_id"] is not None
    for rejected in answers[1:]:
        assert rejected["segment_id"] is None and rejected["top_segments"] == []
        assert rejected["crm_action"] is None and rejected["reasons"] == []
    TypeAdapter(list[ScoredCustomer]).validate_python(answers)


@slow
def test_one_customer_gets_one_answer_and_a_missing_value_is_imputed(api, real_state):
    one = customer(MINIMUM_PAYMENTS=None)
    status, answer = call(f"{api}/score", one)
    assert status == 200 and isinstance(answer, dict)
    frame = pd.DataFrame([one]).replace({None: np.nan})
    expected = numpy_scores(frame, real_state)
    assert answer["segment_id"] == expected["segment_ids"][0, 0]
    assert answer["distance_to_centroid"] == pytest.approx(
        expected["distances"][0, 0], rel=1e-9
    )
    assert call(f"{api}/score", [])[1] == []


# -- bad requests -------------------------------------------------------------


def missing_tenure() -> dict[str, Any]:
    row = customer()
    del row["TENURE"]
    return row


BAD_CUSTOMERS = {
    "missing field": (missing_tenure(), "TENURE", "missing"),
    "unknown field": (customer(BALANCEE=1), "BALANCEE", "extra_forbidden"),
    "object": (customer(BALANCE={"value": 1}), "BALANCE", "raw_value_type"),
    "list": (customer(BALANCE=[1]), "BALANCE", "raw_value_type"),
    "boolean": (customer(TENURE=True), "TENURE", "raw_value_type"),
}


@slow
@pytest.mark.parametrize("shape", ["single", "in a list"])
@pytest.mark.parametrize("case", sorted(BAD_CUSTOMERS))
def test_a_bad_customer_is_a_422_naming_the_field(api, case, shape):
    bad, field, kind = BAD_CUSTOMERS[case]
    body = bad if shape == "single" else [customer(), customer(), bad]
    status, answer = call(f"{api}/score", body)
    assert status == 422
    (error,) = answer["detail"]
    assert error["loc"] == (
        ["body", field] if shape == "single" else ["body", 2, field]
    )
    assert error["type"] == kind


@slow
@pytest.mark.parametrize(
    ("body", "kind"),
    [(b"42", "model_attributes_type"), (b'{"CUST_ID": ', "json_invalid")],
    ids=["a number", "broken JSON"],
)
def test_a_body_that_is_no_customer_is_a_422(api, body, kind):
    status, answer = call(f"{api}/score", body)
    assert status == 422
    assert [e["type"] for e in answer["detail"]] == [kind]


@slow
def test_the_csv_body_is_read_as_the_pipeline_reads_a_raw_file(api, real_csv):
    lines = real_csv.read_text().splitlines()
    small = "\n".join([lines[0], *lines[1:4], lines[1].replace("C10001", "C2,")])
    status, answers = call(f"{api}/score/csv", small.encode(), content_type="text/csv")
    assert status == 422
    assert answers["detail"] == (
        "CSV body: line 5 has 19 fields but the header has 18 "
        "(a value with a comma needs double quotes)"
    )
    small = "\n".join([lines[0], *lines[1:4], lines[4].replace(",", ",x", 1)])
    status, answers = call(f"{api}/score/csv", small.encode(), content_type="text/csv")
    assert status == 200
    assert [a["cust_id"] for a in answers] == ["C10001", "C10002", "C10003", "C10004"]
    assert answers[3]["rejection_reason"].startswith("balance is not a number: x")
    _, by_json = call(f"{api}/score", pd.read_csv(real_csv, nrows=3).pipe(as_json_rows))
    assert answers[:3] == by_json


@slow
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "CSV body is empty: expected a header line"),
        (HEADER.encode(), "CSV body has a header but no data rows"),
        (b"CUST_ID,BALANCE\nC1,1\n", "CSV body: missing columns: BALANCE_FREQUENCY"),
        (
            f"{HEADER}\nC\xe9,{','.join(['1'] * 17)}\n".encode("latin-1"),
            "CSV body: line 2 is not UTF-8 text",
        ),
    ],
    ids=["empty", "header only", "missing columns", "latin-1"],
)
def test_an_unreadable_csv_is_a_422_with_the_readers_message(api, body, message):
    status, answer = call(f"{api}/score/csv", body, content_type="text/csv")
    assert status == 422
    assert answer["detail"].startswith(message)


@slow
def test_the_row_and_body_limits(served_copy):
    rows = [customer(CUST_ID=f"L{i}") for i in range(3)]
    csv_body = "\n".join(
        [HEADER] + [",".join(str(v) for v in row.values()) for row in rows]
    ).encode()
    with serving(served_copy, max_rows=2) as url:
        assert call(f"{url}/score", rows[:2])[0] == 200
        status, answer = call(f"{url}/score", rows)
        assert status == 422
        assert answer["detail"].startswith(
            "the request has 3 customers, more than the 2 one request scores"
        )
        status, answer = call(f"{url}/score/csv", csv_body, content_type="text/csv")
        assert status == 422
        assert answer["detail"].startswith("CSV body has more than 2 rows")
    with serving(served_copy, max_body_bytes=len(csv_body) - 1) as url:
        status, answer = call(f"{url}/score/csv", csv_body, content_type="text/csv")
        assert status == 413
        assert answer["detail"].startswith(
            f"the request body is over {len(csv_body) - 1:,} bytes"
        )
        # without a Content-Length (chunked), the CSV body is counted as read
        host, port = url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        connection.request(
            "POST",
            "/score/csv",
            iter([csv_body[:100], csv_body[100:]]),
            {"Content-Type": "text/csv"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        assert response.status == 413, response.read()
        connection.close()


# -- the model, health, docs ----------------------------------------------------


@slow
def test_health_model_and_docs_answer(api, served_copy, real_state):
    status, health = call(f"{api}/health")
    assert status == 200
    assert health["status"] == "ok" and health["model_id"] == real_state.model_id
    assert health["warehouse"] == str(served_copy)

    status, model = call(f"{api}/model")
    assert status == 200
    with duckdb.connect(str(served_copy), read_only=True) as con:
        ((n_customers,),) = con.execute(
            "select count(*) from customer_segments"
        ).fetchall()
        ((fitted_at,),) = con.execute(
            "select fitted_at from segmentation_models where model_id = ?",
            [real_state.model_id],
        ).fetchall()
    assert model["model_id"] == real_state.model_id
    assert model["n_clusters"] == len(real_state.segment_ids) == 6
    assert model["fitted_at"] == fitted_at.isoformat()
    assert model["features"] == real_state.scaling.feature_name.tolist()
    assert [s["segment_id"] for s in model["segments"]] == list(real_state.segment_ids)
    assert {s["segment_id"]: s["segment_name"] for s in model["segments"]} == (
        real_state.segment_names
    )
    assert sum(s["n_customers"] for s in model["segments"]) == n_customers
    assert sum(s["share_of_customers"] for s in model["segments"]) == pytest.approx(1)

    status, page = call(f"{api}/docs")
    assert status == 200 and "swagger-ui" in page
    status, spec = call(f"{api}/openapi.json")
    assert status == 200
    assert {"/score", "/score/csv", "/health", "/model"} <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    assert list(schemas["Customer"]["properties"]) == list(RAW_COLUMNS)
    assert schemas["Customer"]["additionalProperties"] is False
    assert "top_segments" in schemas["ScoredCustomer"]["properties"]
    assert "text/csv" in spec["paths"]["/score/csv"]["post"]["requestBody"]["content"]


@slow
def test_no_warehouse_is_a_503_until_one_is_published(real_build, tmp_path):
    served = tmp_path / "segmentation.duckdb"
    with serving(served) as url:
        status, health = call(f"{url}/health")
        assert status == 503
        assert health["status"] == "unavailable"
        assert health["reason"].endswith(
            "does not exist: build it first (cc-segmentation build, see README)"
        )
        assert call(f"{url}/score", customer())[0] == 503
        assert call(f"{url}/model")[0] == 503

        duckdb.connect(str(tmp_path / "empty.duckdb")).close()
        os.replace(tmp_path / "empty.duckdb", served)
        status, health = call(f"{url}/health")
        assert status == 503
        assert "has no scoring query" in health["reason"]

        shutil.copy2(real_build.warehouse, tmp_path / "broken.duckdb")
        with duckdb.connect(str(tmp_path / "broken.duckdb")) as con:
            con.execute("drop table fitted_segments")
        os.replace(tmp_path / "broken.duckdb", served)
        status, health = call(f"{url}/health")
        assert status == 503
        assert "its scoring query cannot run" in health["reason"]
        assert "fitted_segments" in health["reason"]

        shutil.copy2(real_build.warehouse, tmp_path / "new.duckdb")
        os.replace(tmp_path / "new.duckdb", served)
        status, health = call(f"{url}/health")
        assert status == 200
        assert call(f"{url}/score", customer())[1]["segment_id"] is not None


@slow
def test_a_newly_published_build_is_served_without_a_restart(
    real_build, sampled_fit_build, real_floats, tmp_path
):
    served = Path(shutil.copy2(real_build.warehouse, tmp_path / "segmentation.duckdb"))
    states = {
        state.model_id: state
        for state in map(
            read_fit_state, [real_build.warehouse, sampled_fit_build.warehouse]
        )
    }
    real_id = read_fit_state(real_build.warehouse).model_id
    (sampled_id,) = set(states) - {real_id}
    probe = real_floats.head(20)
    expected = {
        model_id: numpy_scores(probe, state)["segment_ids"][:, 0].tolist()
        for model_id, state in states.items()
    }
    assert expected[real_id] != expected[sampled_id]  # the probe tells them apart
    rows = as_json_rows(probe)

    with serving(served) as url:
        assert call(f"{url}/model")[1]["model_id"] == real_id
        # clients keep scoring while the file is replaced, and replaced back
        seen: list[Any] = []
        stop = threading.Event()

        def client() -> None:
            while not stop.is_set():
                try:
                    seen.append(call(f"{url}/score", rows))
                except Exception as error:  # reported below, not lost
                    seen.append(error)

        def served_model_becomes(model_id: str) -> None:
            start = len(seen)
            deadline = time.monotonic() + 60
            while not any(
                isinstance(s, tuple) and s[1][0]["model_id"] == model_id
                for s in seen[start:]
            ):
                assert time.monotonic() < deadline, seen[start:][-3:]
                time.sleep(0.05)

        clients = [threading.Thread(target=client) for _ in range(3)]
        for thread in clients:
            thread.start()
        try:
            for source, model_id in [
                (sampled_fit_build.warehouse, sampled_id),
                (real_build.warehouse, real_id),
            ]:
                shutil.copy2(source, tmp_path / "next.duckdb")
                os.replace(tmp_path / "next.duckdb", served)
                served_model_becomes(model_id)
        finally:
            stop.set()
            for thread in clients:
                thread.join()

        assert [s for s in seen if not (isinstance(s, tuple) and s[0] == 200)] == []
        for _, answers in seen:
            (model_id,) = {a["model_id"] for a in answers}
            assert [a["segment_id"] for a in answers] == expected[model_id]

        shutil.copy2(sampled_fit_build.warehouse, tmp_path / "next.duckdb")
        os.replace(tmp_path / "next.duckdb", served)
        model = call(f"{url}/model")[1]
        assert model["model_id"] == sampled_id and model["n_clusters"] == 5
        answers = call(f"{url}/score", rows)[1]
        assert [a["segment_id"] for a in answers] == expected[sampled_id]
        assert call(f"{url}/health")[1]["model_id"] == sampled_id


@slow
def test_the_server_holds_no_file_and_writes_nothing(real_build, tmp_path):
    served = Path(shutil.copy2(real_build.warehouse, tmp_path / "segmentation.duckdb"))
    before = sha256(served)
    with serving(served) as url:
        assert call(f"{url}/score", customer())[0] == 200
        assert call(f"{url}/model")[0] == 200
        assert sha256(served) == before
        # another process can open it read-write, as a plain dbt build does
        opened = subprocess.run(
            [
                sys.executable,
                "-c",
                "import duckdb, sys; duckdb.connect(sys.argv[1]).close()",
                str(served),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert opened.returncode == 0, opened.stderr


@slow
def test_the_serve_command_starts_the_api(served_copy, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path / "serve.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "cc_segmentation", "serve",
                "--warehouse", str(served_copy), "--port", str(port),
            ],
            cwd=REPO,
            stdout=output,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                status, health = call(f"http://127.0.0.1:{port}/health")
                break
            except urllib.error.URLError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        assert status == 200 and health["warehouse"] == str(served_copy)
    finally:
        process.send_signal(signal.SIGINT)
        returncode = process.wait(30)
    assert returncode == 0, log.read_text()
    assert "serving model" in log.read_text()


# -- the Scorer under the API -------------------------------------------------


@slow
def test_a_copy_of_a_fitted_table_that_differs_stops_the_scorer(
    served_copy, monkeypatch
):
    def three_digits(value: Any) -> str:
        text = f"{value:.3f}" if isinstance(value, float) else str(value)
        return "null" if value is None else sql_literal(text)

    monkeypatch.setattr("cc_segmentation.apps.scoring._text_literal", three_digits)
    with pytest.raises(RuntimeError, match="the copies of .*fitted_features.* differ"):
        Scorer(served_copy)


@slow
def test_the_scorer_plans_the_query_once(served_copy, real_csv, tmp_path):
    """Executing the prepared query binds nothing: its plan is kept.  (DuckDB
    binds a prepared statement again on every run if it scans a table.)"""
    customers = pd.read_csv(real_csv, dtype=str, keep_default_na=False).head(5)

    def binding_seconds(con: duckdb.DuckDBPyConnection, run: Any) -> float:
        profile = tmp_path / "profile.json"
        con.execute("pragma enable_profiling = 'json'")
        con.execute(f"pragma profiling_output = {sql_literal(profile)}")
        con.execute("set profiling_mode = 'detailed'")
        run()
        con.execute("pragma disable_profiling")
        return json.loads(profile.read_text())["planner"]["binding_time"]

    with Scorer(served_copy) as scorer:
        scorer.score(customers)
        reused = binding_seconds(scorer._con, lambda: scorer.score(customers))

    # the query run as it is stored: attached warehouse, scoring_input a table
    with duckdb.connect() as con:
        con.execute(f"attach {sql_literal(served_copy)} as warehouse (read_only)")
        ((query,),) = con.execute(
            "select query from warehouse.main.scoring_query"
        ).fetchall()
        frame = customers.set_axis([c.lower() for c in RAW_COLUMNS], axis=1)
        con.register("frame", frame)
        con.execute("create temp table scoring_input as select * from frame")
        planned = binding_seconds(con, lambda: con.execute(query).fetchall())
    assert reused < planned / 100, (reused, planned)


@slow
def test_a_scorer_nobody_closes_is_freed_with_its_session(served_copy):
    script = (
        "import sys, pandas as pd\n"
        "from cc_segmentation.apps.scoring import Scorer\n"
        "scorer = Scorer(sys.argv[1])\n"
        "row = {c: '1' for c in sys.argv[2].split(',')}\n"
        "print(scorer.score(pd.DataFrame([row])).segment_id.notna().all())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(served_copy), HEADER],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
    assert done.stderr == ""  # nanobind reports a session leaked at exit here
