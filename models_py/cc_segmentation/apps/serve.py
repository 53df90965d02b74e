"""The scoring API: ``cc-segmentation serve``, FastAPI on uvicorn.

Scores customers over HTTP with the published warehouse, read-only:

- ``POST /score``: one customer (a JSON object) or a list of them, with the
  raw file's 18 columns as fields (``CUST_ID``, ``BALANCE``, ...); each
  value a number, a string or null (missing);
- ``POST /score/csv``: a CSV body, read as the pipeline reads its raw file
  (:func:`~cc_segmentation.apps.scoring.read_customers_csv`);
- ``GET /health``: 200 with the warehouse and model id, 503 with the reason
  when there is nothing to score with;
- ``GET /model``: model id, k, when it was fitted, its features in order,
  and its segments;
- ``GET /docs``: the OpenAPI documentation (``/openapi.json``).

Every customer goes through the warehouse's own ``scoring_query`` (see
:class:`~cc_segmentation.apps.scoring.Scorer`), as the dashboard and
:func:`~cc_segmentation.apps.scoring.score` do.  A row the pipeline would
quarantine comes back with its ``rejection_reason``; a request that is not
the documented shape (a field missing, unknown or of the wrong JSON type, an
unreadable CSV, too many rows) is a 422 naming what is wrong.

The scorer is kept between requests and loaded again when a build
publishes a new warehouse (the file's inode, size or modification time
changes), so a new model is served without a restart.  It holds no file
open between loads, so it never blocks a build.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from fastapi import Body, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    PlainValidator,
    Tag,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError
from starlette.concurrency import run_in_threadpool

from cc_segmentation import RAW_COLUMNS
from cc_segmentation.apps import scoring
from cc_segmentation.apps.scoring import (
    ModelInfo,
    Scorer,
    ScorerClosed,
    WarehouseNotReady,
    file_signature,
)

DESCRIPTION = (
    "Start the scoring API (FastAPI on uvicorn) over the published warehouse "
    "($CC_SEGMENTATION_WAREHOUSE or warehouse/segmentation.duckdb, read-only): "
    "POST /score, POST /score/csv, GET /health, GET /model, docs at /docs. "
    "A newly published build is served without a restart."
)
DEFAULT_WAREHOUSE = "warehouse/segmentation.duckdb"
#: The largest request body, as the dashboard's upload (100,000 customers
#: take about 60 MB as JSON and 15 MB as CSV).
MAX_BODY_BYTES = 100 * 1024 * 1024
#: What messages call the body of POST /score/csv.
CSV_BODY_NAME = "CSV body"
#: How long a warehouse that failed to load is not tried again, unchanged.
_RETRY_SECONDS = 2.0

_log = logging.getLogger("cc_segmentation.serve")


# -- requests -----------------------------------------------------------------


def _raw_text(value: Any) -> str | None:
    """A JSON value of a raw column as the text a raw file would hold.

    Numbers become their shortest exact text (``repr``), strings stay as
    given (``"NA"`` is a value that is not a number, as in a file), null is
    missing.  An object, a list or a boolean is a validation error: a typo
    in a client must not become a missing value.
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value)
    kind = {bool: "a boolean", dict: "an object", list: "a list"}.get(
        type(value), type(value).__name__
    )
    raise PydanticCustomError(
        "raw_value_type",
        "must be a number, a string or null, not {kind}",
        {"kind": kind},
    )


#: A raw column's value: number, string or null, passed on as text.
RawValue = Annotated[
    str | None,
    PlainValidator(_raw_text),
    WithJsonSchema(
        {"anyOf": [{"type": "number"}, {"type": "string"}, {"type": "null"}]}
    ),
]


class Customer(BaseModel):
    """One customer: the raw file's 18 columns, every one required.

    A value is a number, a string or null.  Null (or a blank string) is a
    missing value, which the pipeline imputes or, past
    ``max_missing_measures``, rejects.  Text that is not a number (``"NA"``)
    is a value the pipeline rejects, with its reason, as it would in a file.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "CUST_ID": "C99001",
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
                    "MINIMUM_PAYMENTS": None,
                    "PRC_FULL_PAYMENT": 0,
                    "TENURE": 12,
                }
            ]
        },
    )

    CUST_ID: RawValue
    BALANCE: RawValue
    BALANCE_FREQUENCY: RawValue
    PURCHASES: RawValue
    ONEOFF_PURCHASES: RawValue
    INSTALLMENTS_PURCHASES: RawValue
    CASH_ADVANCE: RawValue
    PURCHASES_FREQUENCY: RawValue
    ONEOFF_PURCHASES_FREQUENCY: RawValue
    PURCHASES_INSTALLMENTS_FREQUENCY: RawValue
    CASH_ADVANCE_FREQUENCY: RawValue
    CASH_ADVANCE_TRX: RawValue
    PURCHASES_TRX: RawValue
    CREDIT_LIMIT: RawValue
    PAYMENTS: RawValue
    MINIMUM_PAYMENTS: RawValue
    PRC_FULL_PAYMENT: RawValue
    TENURE: RawValue


if tuple(Customer.model_fields) != RAW_COLUMNS:  # pragma: no cover
    raise ImportError("Customer's fields are not the raw columns, in order")


def _one_or_many(body: Any) -> str:
    return "customers" if isinstance(body, list) else "customer"


#: POST /score's body: a customer or a list of them.  The discriminator
#: picks the shape by the JSON type, so an error names the field (and the
#: row) rather than listing how each shape failed.
ScoreBody = Annotated[
    Annotated[Customer, Tag("customer")] | Annotated[list[Customer], Tag("customers")],
    Discriminator(_one_or_many),
]
_SHAPE_TAGS = {"customer", "customers"}


# -- answers ------------------------------------------------------------------


class SegmentProbability(BaseModel):
    """A segment and the customer's soft-membership probability in it."""

    segment_id: int
    segment_name: str
    probability: float


class Reason(BaseModel):
    """A feature that pulls the customer towards its segment rather than the
    runner-up, and whether the customer is higher or lower on it."""

    feature: str
    direction: str


class CrmAction(BaseModel):
    """The CRM strategy of the customer's segment (seeds/crm_strategies.csv)."""

    objective: str
    actions: str | None
    channel: str | None
    priority: int | None
    risk_note: str | None


class ScoredCustomer(BaseModel):
    """One customer's answer; the segment fields are null when rejected."""

    input_row_number: int
    cust_id: str | None
    rejection_reason: str | None
    segment_id: int | None
    segment_name: str | None
    distance_to_centroid: float | None
    confidence: float | None
    probability: float | None
    top_segments: list[SegmentProbability]
    reasons: list[Reason]
    is_distance_anomaly: bool | None
    crm_action: CrmAction | None
    model_id: str


class Health(BaseModel):
    """Whether the API can score, with what."""

    status: str
    warehouse: str
    model_id: str | None = None
    reason: str | None = None


class Segment(BaseModel):
    """A segment of the served model (from ``segments``)."""

    segment_id: int
    segment_name: str
    persona_id: str
    n_customers: int
    share_of_customers: float | None


class Model(BaseModel):
    """The served model (``segmentation_models``, ``segments``)."""

    model_id: str
    n_clusters: int
    fitted_at: datetime
    features: list[str]
    segments: list[Segment]
    warehouse: str


_RANKS = ("", "second_", "third_")


def _answer(row: dict[str, Any], model_id: str) -> dict[str, Any]:
    """A row of ``scoring_query`` in the shape of :class:`ScoredCustomer`."""
    top = [
        {
            "segment_id": row[f"{rank}segment_id"],
            "segment_name": row[f"{rank}segment_name"],
            "probability": row[f"{rank}probability"],
        }
        for rank in _RANKS
        if row[f"{rank}segment_id"] is not None
    ]
    reasons = [
        {
            "feature": row[f"reason_{i}_feature"],
            "direction": row[f"reason_{i}_direction"],
        }
        for i in (1, 2, 3)
        if row[f"reason_{i}_feature"] is not None
    ]
    crm = None
    if row["crm_objective"] is not None:
        crm = {
            "objective": row["crm_objective"],
            "actions": row["crm_actions"],
            "channel": row["crm_channel"],
            "priority": row["crm_priority"],
            "risk_note": row["risk_note"],
        }
    return {
        "input_row_number": row["input_row_number"],
        "cust_id": row["cust_id"],
        "rejection_reason": row["rejection_reason"],
        "segment_id": row["segment_id"],
        "segment_name": row["segment_name"],
        "distance_to_centroid": row["distance_to_centroid"],
        "confidence": row["confidence"],
        "probability": row["probability"],
        "top_segments": top,
        "reasons": reasons,
        "is_distance_anomaly": row["is_distance_anomaly"],
        "crm_action": crm,
        "model_id": model_id,
    }


# -- the published scorer -----------------------------------------------------


class PublishedScorer:
    """The :class:`Scorer` of whatever is published at ``warehouse`` now.

    Each request compares the file's signature (inode, size, modification
    time) with the loaded one's, and a change loads the new file once: a
    build publishes with ``os.replace``, so the path then names a new inode.
    The replaced scorer is closed after the batch it is scoring.  A file
    that cannot be loaded is tried again when it changes, or after
    ``_RETRY_SECONDS`` (a plain ``dbt build`` writing it in place holds a
    lock that may outlast its last change); meanwhile requests get the
    reason at once.
    """

    def __init__(self, warehouse: str | os.PathLike) -> None:
        self.warehouse = Path(warehouse)
        self._scorer: Scorer | None = None
        # the signature, time and error of the last file that failed to load
        self._failure: tuple[tuple[int, ...], float, WarehouseNotReady] | None
        self._failure = None
        self._lock = threading.Lock()

    def _signature(self) -> tuple[int, int, int, int]:
        try:
            return file_signature(self.warehouse)
        except FileNotFoundError:
            raise WarehouseNotReady(
                f"{self.warehouse} does not exist: build it first "
                "(cc-segmentation build, see README)"
            ) from None

    def current(self) -> Scorer:
        """The scorer of the published file, loaded if it changed."""
        signature = self._signature()
        scorer = self._scorer
        if scorer is not None and scorer.signature == signature:
            return scorer
        with self._lock:
            signature = self._signature()
            scorer = self._scorer
            if scorer is not None and scorer.signature == signature:
                return scorer
            if self._failure is not None:
                failed_signature, failed_at, error = self._failure
                fresh = time.monotonic() - failed_at < _RETRY_SECONDS
                if failed_signature == signature and fresh:
                    raise error
            try:
                loaded = Scorer(self.warehouse)
            except WarehouseNotReady as error:
                self._failure = (signature, time.monotonic(), error)
                self._scorer = None
                if scorer is not None:
                    scorer.close()
                raise
            self._failure = None
            self._scorer = loaded
            if scorer is not None:
                _log.info(
                    "loaded model %s from %s (was %s)",
                    loaded.model.model_id,
                    self.warehouse,
                    scorer.model.model_id,
                )
                scorer.close()
            return loaded

    def score_rows(
        self, customers: pd.DataFrame, name: str, max_rows: int | None
    ) -> tuple[ModelInfo, list[dict[str, Any]]]:
        """Score with the current scorer: its model and the rows."""
        for _ in range(3):
            scorer = self.current()
            try:
                rows = scorer.score_rows(customers, name=name, max_rows=max_rows)
            except ScorerClosed:
                continue  # a newer build was loaded meanwhile: score with it
            return scorer.model, rows
        raise WarehouseNotReady(
            f"{self.warehouse} was replaced three times during one request"
        )

    def close(self) -> None:
        with self._lock:
            if self._scorer is not None:
                self._scorer.close()
                self._scorer = None


# -- the app ------------------------------------------------------------------


class _BodyLimit:
    """Refuse a request whose Content-Length is over ``max_bytes`` (413)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
        send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] == "http":
            length = dict(scope["headers"]).get(b"content-length")
            if length is not None and length.isdigit() and int(length) > self.max_bytes:
                response = JSONResponse(
                    {"detail": _too_large(self.max_bytes)}, status_code=413
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _too_large(max_bytes: int) -> str:
    return (
        f"the request body is over {max_bytes:,} bytes, the most one request "
        "takes: split it, or segment the file with a pipeline build"
    )


def _json(content: Any) -> Response:
    """``content`` as a JSON response, written directly.

    The answers are built field by field by :func:`_answer`, in the shape
    of :class:`ScoredCustomer`, so FastAPI's check of each against the
    response model is skipped: for 1,000 customers it cost more than the
    scoring of them.  (The tests check the shape against the models.)
    """
    return Response(
        json.dumps(content, allow_nan=False, separators=(",", ":")),
        media_type="application/json",
    )


def _without_shape_tags(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Validation errors with the body-shape tag taken out of ``loc``, so it
    reads ``["body", 2, "TENURE"]``: the row and the field."""
    cleaned = []
    for error in errors:
        loc = list(error.get("loc", ()))
        if len(loc) > 1 and loc[0] == "body" and loc[1] in _SHAPE_TAGS:
            del loc[1]
        cleaned.append({**error, "loc": loc})
    return cleaned


def create_app(
    warehouse: str | os.PathLike,
    *,
    max_rows: int | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """The scoring API over ``warehouse`` (see the module's docstring).

    Parameters
    ----------
    warehouse : path
        The published warehouse; it need not exist yet (``/health`` says
        503 until it does).
    max_rows : int, optional
        The most customers one request scores; ``scoring.MAX_ROWS`` by
        default.
    max_body_bytes : int
        The largest request body; a larger one is refused with 413.
    """
    published = PublishedScorer(warehouse)
    row_limit = scoring.MAX_ROWS if max_rows is None else max_rows

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            model = (await run_in_threadpool(published.current)).model
            _log.info("serving model %s from %s", model.model_id, published.warehouse)
        except WarehouseNotReady as error:
            _log.warning("not ready to score yet: %s", error)
        yield
        published.close()

    app = FastAPI(
        title="cc-segmentation scoring API",
        summary="Segment credit-card customers with the published model.",
        description=(__doc__ or "").split("\n\n", 1)[-1],
        version="1",
        lifespan=lifespan,
    )
    app.add_middleware(_BodyLimit, max_bytes=max_body_bytes)
    app.state.published = published

    @app.exception_handler(RequestValidationError)
    async def invalid_request(
        _request: Request, error: RequestValidationError
    ) -> JSONResponse:
        errors = _without_shape_tags(list(error.errors()))
        # the input of an error can be the whole request: leave it out
        detail = [
            {k: v for k, v in e.items() if k not in ("input", "ctx")} for e in errors
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    def score_frame(customers: pd.DataFrame, name: str) -> list[dict[str, Any]]:
        try:
            model, rows = published.score_rows(customers, name, row_limit)
        except WarehouseNotReady as error:
            raise HTTPException(503, str(error)) from None
        except ValueError as error:
            raise HTTPException(422, str(error)) from None
        return [_answer(row, model.model_id) for row in rows]

    @app.post(
        "/score",
        response_model=ScoredCustomer | list[ScoredCustomer],
        summary="Score one customer or a list of customers",
        responses={
            422: {"description": "a field missing, unknown or of the wrong type"},
            503: {"description": "no built warehouse to score with"},
        },
    )
    def score(body: Annotated[ScoreBody, Body()]) -> Any:
        """Segment each customer with the published model.

        The body is one customer, or a list of up to 100,000 (the answer is
        then one customer, or a list in the same order).  A customer the
        pipeline would quarantine comes back with its ``rejection_reason``
        and no segment.
        """
        customers = body if isinstance(body, list) else [body]
        if len(customers) > row_limit:
            raise HTTPException(
                422,
                f"the request has {len(customers):,} customers, more than the "
                f"{row_limit:,} one request scores: split it, or segment the "
                "file with a pipeline build",
            )
        frame = pd.DataFrame(
            {
                column: [getattr(customer, column) for customer in customers]
                for column in RAW_COLUMNS
            },
            dtype=object,
        )
        answers = score_frame(frame, "the request")
        return _json(answers if isinstance(body, list) else answers[0])

    @app.post(
        "/score/csv",
        response_model=list[ScoredCustomer],
        summary="Score the customers of a CSV file",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        },
        responses={
            413: {"description": "the body is too large"},
            422: {"description": "the CSV cannot be read (the message names the line)"},
            503: {"description": "no built warehouse to score with"},
        },
    )
    async def score_csv(request: Request) -> Any:
        """Segment the customers of a CSV body (``Content-Type: text/csv``).

        The body is read exactly as the pipeline reads its raw file: UTF-8,
        comma-separated, double quotes, a header line; columns found by
        name in any order and case, other columns ignored; only an empty
        cell is missing.  An unreadable body is a 422 whose detail names the
        line.  The answer is one object per data row, in file order.
        """
        with tempfile.TemporaryDirectory(prefix="cc-score-") as folder:
            path = Path(folder) / "body.csv"
            size = 0
            with path.open("wb") as file:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > max_body_bytes:
                        raise HTTPException(413, _too_large(max_body_bytes))
                    file.write(chunk)

            def read_and_score() -> list[dict[str, Any]]:
                try:
                    customers = scoring.read_customers_csv(
                        path, CSV_BODY_NAME, max_rows=row_limit
                    )
                except ValueError as error:
                    raise HTTPException(422, str(error)) from None
                return score_frame(customers, CSV_BODY_NAME)

            return _json(await run_in_threadpool(read_and_score))

    @app.get(
        "/health",
        response_model=Health,
        summary="Whether the API can score",
        responses={503: {"model": Health, "description": "nothing to score with"}},
    )
    def health() -> Any:
        """200 with the warehouse and the model id, or 503 with the reason."""
        try:
            model = published.current().model
        except WarehouseNotReady as error:
            return JSONResponse(
                Health(
                    status="unavailable",
                    warehouse=str(published.warehouse),
                    reason=str(error),
                ).model_dump(),
                status_code=503,
            )
        return Health(
            status="ok", warehouse=str(published.warehouse), model_id=model.model_id
        )

    @app.get(
        "/model",
        response_model=Model,
        summary="The model being served",
        responses={503: {"description": "no built warehouse to score with"}},
    )
    def model() -> Any:
        """Model id, k, when it was fitted, its features in model order, and
        its segments (id, name, persona, size, share)."""
        try:
            info = published.current().model
        except WarehouseNotReady as error:
            raise HTTPException(503, str(error)) from None
        return Model(
            model_id=info.model_id,
            n_clusters=info.n_clusters,
            fitted_at=info.fitted_at,
            features=list(info.features),
            segments=[Segment(**segment) for segment in info.segments],
            warehouse=str(published.warehouse),
        )

    return app


# -- the command --------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options, for ``cc-segmentation serve``."""
    parser.add_argument(
        "--warehouse",
        type=Path,
        default=Path(os.environ.get("CC_SEGMENTATION_WAREHOUSE", DEFAULT_WAREHOUSE)),
        help="the published warehouse (default: $CC_SEGMENTATION_WAREHOUSE or "
        f"{DEFAULT_WAREHOUSE})",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: %(default)s)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8000,
        help="port to listen on (default: %(default)s)",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn's log level (default: %(default)s)",
    )
    parser.add_argument(
        "--no-access-log",
        dest="access_log",
        action="store_false",
        help="do not log each request",
    )


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Serve the API until interrupted (Ctrl-C or SIGTERM)."""
    import uvicorn

    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port} is not a port number (0-65535)")
    logging.basicConfig(
        level=args.log_level.upper(), format="%(levelname)s: %(message)s"
    )
    uvicorn.run(
        create_app(args.warehouse),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=args.access_log,
    )
    return 0
