"""The segmentation dashboard (Streamlit).  Start it with
``cc-segmentation dashboard``; it reads the published warehouse
through short-lived read-only connections, so it never blocks a build and
picks up each new build on the next rerun.

Text from the data (ids, cell values, reasons, names) reaches the page only
through ``st.dataframe`` or escaped with ``markdown_text``: Streamlit renders
Markdown in alerts, captions and even ``st.table`` cells."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import duckdb
import matplotlib.pyplot as plt
import pandas as pd
import streamlit as st

from cc_segmentation import RAW_COLUMNS, sql_literal
from cc_segmentation.apps.reports import (
    figure_k_selection,
    figure_pca_map,
    figure_profiles,
    figure_sizes,
    read_tables,
    segment_colours,
)
from cc_segmentation.apps.safe_text import csv_safe, markdown_text
from cc_segmentation.apps.scoring import MAX_ROWS, read_customers_csv, score

WAREHOUSE = Path(
    os.environ.get("CC_SEGMENTATION_WAREHOUSE", "warehouse/segmentation.duckdb")
)
#: Per uploaded file.  MAX_ROWS rows of the raw file are about 11 MB; the
#: dashboard's own download of them, with the result columns, about 55 MB.
MAX_UPLOAD_MB = 100


@st.cache_data(show_spinner=False)
def query(sql: str, warehouse: str, built_at: float) -> pd.DataFrame:
    """Run SQL on the warehouse; ``built_at`` (its mtime) renews the cache."""
    with duckdb.connect(warehouse, read_only=True) as con:
        return con.execute(sql).df()


@st.cache_data(show_spinner=False)
def tables(warehouse: str, built_at: float) -> dict[str, pd.DataFrame]:
    return read_tables(Path(warehouse))


def run(sql: str) -> pd.DataFrame:
    return query(sql, str(WAREHOUSE), WAREHOUSE.stat().st_mtime)


def show(figure) -> None:
    """Draw a matplotlib figure, then free it (every rerun makes new ones)."""
    st.pyplot(figure)
    plt.close(figure)


st.set_page_config(page_title="Credit-card segments", layout="wide")
st.title("Credit-card customer segments")

if not WAREHOUSE.exists():
    st.error(
        f"No warehouse at {markdown_text(WAREHOUSE)} yet. Build it first, from "
        "the repository "
        "root: `cc-segmentation build` (see the README Quickstart), "
        "or set CC_SEGMENTATION_WAREHOUSE to a built warehouse."
    )
    st.stop()

segments = run(
    "select segment_id, segment_name, persona_id, n_customers, "
    "share_of_customers, crm_objective, crm_actions, crm_channel, "
    "crm_priority, risk_note from segments order by segment_id"
)
model = run(
    "select m.* from segmentation_models as m where m.model_id = "
    "(select any_value(model_id) from segment_centroids)"
).iloc[0]
metrics = run("select * from model_metrics where scope = 'model'").iloc[0]
figures = tables(str(WAREHOUSE), WAREHOUSE.stat().st_mtime)
colours = segment_colours(segments.segment_name)

st.caption(
    f"Warehouse {markdown_text(WAREHOUSE)} · model {markdown_text(model.model_id)} "
    f"fitted {model.fitted_at:%Y-%m-%d %H:%M} UTC on {model.n_rows:,} customers"
)

overview, profiles, pca_map, choosing_k, lookup, scoring = st.tabs(
    [
        "Overview",
        "Segment profiles",
        "Map",
        "Choosing k",
        "Customer lookup",
        "Score a customer",
    ]
)

with overview:
    columns = st.columns(4)
    columns[0].metric("Customers", f"{int(segments.n_customers.sum()):,}")
    columns[1].metric("Segments", len(segments))
    columns[2].metric("Silhouette", f"{metrics.silhouette:.3f}")
    columns[3].metric("Davies–Bouldin", f"{metrics.davies_bouldin:.2f}")
    st.subheader("Segments and their CRM actions")
    st.dataframe(
        segments.assign(share=segments.share_of_customers.map("{:.1%}".format))[
            [
                "segment_id",
                "segment_name",
                "n_customers",
                "share",
                "crm_objective",
                "crm_actions",
                "crm_channel",
                "crm_priority",
                "risk_note",
            ]
        ],
        hide_index=True,
        width="stretch",
    )
    show(figure_sizes(figures["customers"], colours))

with profiles:
    st.subheader("Centroids, in standard deviations from the portfolio")
    show(figure_profiles(figures["centroids"]))
    st.subheader("Means and medians in original units")
    profile = run(
        "select segment_name, feature_name, mean_value, median_value, "
        "portfolio_mean, mean_to_portfolio_ratio from segment_profiles "
        "order by segment_id, feature_position"
    )
    st.dataframe(
        profile.pivot(
            index="feature_name", columns="segment_name", values="mean_value"
        ),
        width="stretch",
    )
    st.caption("How each segment differs from the portfolio (mean ÷ portfolio mean)")
    st.dataframe(
        profile.pivot(
            index="feature_name",
            columns="segment_name",
            values="mean_to_portfolio_ratio",
        ).style.format("{:.2f}"),
        width="stretch",
    )

with pca_map:
    show(figure_pca_map(figures["customers"], figures["pca"], colours))

with choosing_k:
    show(figure_k_selection(figures["k_selection"]))
    st.dataframe(run("select * from k_selection order by k"), hide_index=True)

with lookup:
    cust_id = st.text_input("CUST_ID", placeholder="C10001")
    if cust_id:
        literal = sql_literal(cust_id.strip())
        found = run(f"select * from customer_segments where cust_id = {literal}")
        if found.empty:
            quarantined = run(
                "select source_row_number, quarantine_reason from "
                f"quarantined_customers where cust_id = {literal}"
            )
            if quarantined.empty:
                st.warning(f"No customer {markdown_text(cust_id)} in this warehouse.")
            else:
                st.warning(
                    f"{markdown_text(cust_id)} was quarantined: "
                    f"{markdown_text(quarantined.quarantine_reason[0])}"
                )
        else:
            row = found.iloc[0]
            st.markdown(
                f"**{markdown_text(row.segment_name)}** (segment {row.segment_id}) "
                f"· distance {row.distance_to_centroid:.2f} · confidence "
                f"{row.confidence:.2f}"
            )
            st.markdown(f"*Why:* {markdown_text(row.why_this_segment)}")
            st.dataframe(
                pd.DataFrame(
                    {
                        "segment": [
                            row.segment_name,
                            row.second_segment_name,
                            row.third_segment_name,
                        ],
                        "probability": [
                            row.probability,
                            row.second_probability,
                            row.third_probability,
                        ],
                    }
                ),
                hide_index=True,
            )
            st.markdown(
                f"**CRM:** {markdown_text(row.crm_objective)} — "
                f"{markdown_text(row.crm_actions)} ({markdown_text(row.crm_channel)}, "
                f"priority {markdown_text(row.crm_priority)})"
            )
            if row.is_dbscan_noise or row.is_distance_anomaly:
                st.info("Flagged as an outlier: it keeps its segment, but check it.")


def show_scored(result: pd.Series) -> None:
    if pd.notna(result.rejection_reason):
        st.error(
            f"Cannot score this customer: {markdown_text(result.rejection_reason)}"
        )
        return
    st.success(f"Segment: {markdown_text(result.segment_name)}")
    st.markdown(
        f"Confidence {result.confidence:.2f} · "
        f"distance {result.distance_to_centroid:.2f}"
    )
    st.dataframe(
        pd.DataFrame(
            {
                "alternative": [
                    result.segment_name,
                    result.second_segment_name,
                    result.third_segment_name,
                ],
                "probability": [
                    result.probability,
                    result.second_probability,
                    result.third_probability,
                ],
            }
        ),
        hide_index=True,
    )
    st.markdown(
        f"**CRM action:** {markdown_text(result.crm_actions)} "
        f"({markdown_text(result.crm_objective)})"
    )


def score_upload(upload) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The uploaded file's 18 raw columns, read as the pipeline reads its
    raw file, and their scores; a ValueError names the file."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload.csv"
        with path.open("wb") as file:
            shutil.copyfileobj(upload, file)
        raw = read_customers_csv(path, name=upload.name, max_rows=MAX_ROWS)
    return raw, score(WAREHOUSE, raw, name=upload.name, max_rows=MAX_ROWS)


with scoring:
    medians = run(
        "select upper(feature_name) as column_name, median "
        "from feature_distributions order by feature_position"
    ).set_index("column_name")["median"]
    with st.form("score_one"):
        st.caption(
            "Scored with the stored fit state and the pipeline's own SQL "
            "(scoring_query). Defaults are the portfolio medians."
        )
        values: dict[str, str | float] = {
            "CUST_ID": st.text_input("CUST_ID", value="NEW-1")
        }
        grid = st.columns(3)
        for i, column in enumerate(RAW_COLUMNS[1:]):
            values[column] = grid[i % 3].number_input(
                column, value=float(medians[column]), format="%.6f"
            )
        submitted = st.form_submit_button("Score")
    if submitted:
        show_scored(score(WAREHOUSE, pd.DataFrame([values])).iloc[0])

    st.subheader("Batch: upload a CSV with the 18 columns")
    st.caption(
        "Read exactly as the pipeline reads its raw file: UTF-8, comma-separated, "
        "double quotes, a header line; only an empty cell is missing. Column "
        "names in any order and case; other columns are ignored. At most "
        f"{MAX_ROWS:,} rows and {MAX_UPLOAD_MB} MB per file."
    )
    upload = st.file_uploader("CSV file", type=["csv"], max_upload_size=MAX_UPLOAD_MB)
    if upload is not None:
        try:
            raw, result = score_upload(upload)
        except ValueError as error:
            st.error(markdown_text(error))
        else:
            # the raw columns as read, then the results: a re-upload of this
            # file reads the same 18 columns and ignores the rest
            scored = raw.join(result.drop(columns=["input_row_number", "cust_id"]))
            st.dataframe(scored, width="stretch")
            st.download_button(
                "Download with segments",
                csv_safe(scored).to_csv(index=False),
                file_name=f"{Path(upload.name).stem}_with_segments.csv",
            )
