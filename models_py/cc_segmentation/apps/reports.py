"""Pictures of the segmentation, written as PNG files.

``cc-segmentation reports`` reads the published warehouse
(read-only) and writes under ``warehouse/reports/``:

- ``k_selection.png``: inertia, silhouette, Davies-Bouldin and stability
  against k, the chosen k marked;
- ``pca_map.png``: every customer on the first two principal components,
  coloured by segment, outliers marked;
- ``segment_profiles.png``: heatmap of the centroids' z-scores, segment by
  feature;
- ``segment_sizes.png``: customers per segment.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import matplotlib
import numpy as np
import pandas as pd

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

if TYPE_CHECKING:
    from matplotlib.typing import ColorType

DEFAULT_WAREHOUSE = "warehouse/segmentation.duckdb"


def read_tables(warehouse: Path) -> dict[str, pd.DataFrame]:
    """The tables the pictures need, read in one short read-only session."""
    queries = {
        "k_selection": "select * from k_selection order by k",
        "customers": (
            "select segment_id, segment_name, pca_x, pca_y, is_dbscan_noise, "
            "is_distance_anomaly from customer_segments"
        ),
        "centroids": (
            "select c.segment_id, s.segment_name, c.feature_name, "
            "c.feature_position, c.centroid_z from segment_centroids as c "
            "inner join segments as s on c.segment_id = s.segment_id"
        ),
        "pca": (
            "select distinct component, explained_variance_ratio "
            "from pca_components order by component"
        ),
    }
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {name: con.execute(sql).df() for name, sql in queries.items()}


def segment_colours(names: pd.Series) -> dict[str, ColorType]:
    """One stable colour per segment name (tab10, in segment-id order)."""
    palette = matplotlib.color_sequences["tab10"]
    return {name: palette[i % len(palette)] for i, name in enumerate(names)}


def figure_k_selection(table: pd.DataFrame) -> plt.Figure:
    chosen = int(table.loc[table.is_chosen, "k"].iloc[0])
    panels = [
        ("inertia", "Inertia (within-segment sum of squares)", "lower is tighter"),
        ("silhouette", "Silhouette", "higher is better"),
        ("davies_bouldin", "Davies–Bouldin index", "lower is better"),
        ("stability", "Stability (mean adjusted Rand index)", "higher is better"),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), sharex=True)
    for ax, (column, title, hint) in zip(axes.ravel(), panels, strict=True):
        ax.plot(table.k, table[column], marker="o", color="#1f4e79")
        # NULL (stability not needed) is not eligible
        eligible = table[table.is_eligible.eq(True)]
        ax.plot(
            eligible.k,
            eligible[column],
            linestyle="none",
            marker="o",
            markerfacecolor="none",
            markeredgecolor="#2ca02c",
            markersize=12,
            label="eligible k",
        )
        ax.axvline(
            chosen, color="#d62728", linestyle="--", label=f"chosen k = {chosen}"
        )
        ax.set_title(f"{title}\n({hint})", fontsize=10)
        ax.grid(alpha=0.3)
        ax.set_xticks(table.k)
    for ax in axes[1]:
        ax.set_xlabel("number of segments k")
    axes[0, 0].legend(loc="upper right", fontsize=9)
    fig.suptitle("Choosing k (k_selection)", fontsize=13)
    fig.tight_layout()
    return fig


def figure_pca_map(
    customers: pd.DataFrame, pca: pd.DataFrame, colours: dict
) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(10, 7.5))
    for name, group in customers.groupby("segment_name", sort=False):
        ax.scatter(
            group.pca_x, group.pca_y, s=4, alpha=0.45, color=colours[name], label=name
        )
    outliers = customers[customers.is_dbscan_noise | customers.is_distance_anomaly]
    ax.scatter(
        outliers.pca_x,
        outliers.pca_y,
        s=28,
        facecolors="none",
        edgecolors="black",
        linewidths=0.7,
        label=f"outlier (DBSCAN noise or distance anomaly): {len(outliers):,}",
    )
    ratio = pca.explained_variance_ratio.to_numpy()
    ax.set_xlabel(f"principal component 1 ({ratio[0]:.0%} of variance)")
    ax.set_ylabel(f"principal component 2 ({ratio[1]:.0%} of variance)")
    ax.set_title(
        f"Customers on the first two principal components (n = {len(customers):,})"
    )
    legend = ax.legend(loc="best", fontsize=9, markerscale=3, framealpha=0.9)
    for handle in legend.legend_handles[:-1]:
        if handle is not None:  # None only for artists a legend cannot draw
            handle.set_alpha(1)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def figure_profiles(centroids: pd.DataFrame) -> plt.Figure:
    wide = centroids.pivot_table(
        index="segment_name", columns="feature_position", values="centroid_z"
    )
    features = (
        centroids.drop_duplicates("feature_position")
        .set_index("feature_position")
        .sort_index()
        .feature_name
    )
    order = centroids.drop_duplicates("segment_id").sort_values("segment_id")
    wide = wide.loc[order.segment_name]
    limit = float(np.ceil(np.abs(wide.to_numpy()).max()))
    fig, ax = plt.subplots(figsize=(13, 1.2 + 0.6 * len(wide)))
    image = ax.imshow(
        wide.to_numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto"
    )
    ax.set_xticks(range(len(features)), [f.replace("_", " ") for f in features])
    ax.tick_params(axis="x", labelrotation=45)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    ax.set_yticks(range(len(wide)), wide.index)
    for (row, col), value in np.ndenumerate(wide.to_numpy()):
        ax.text(col, row, f"{value:+.1f}", ha="center", va="center", fontsize=8)
    colourbar = fig.colorbar(image, ax=ax, pad=0.01)
    colourbar.set_label("z-score (SDs from the portfolio mean)")
    ax.set_title("Segment profiles: centroids in standardized units")
    fig.tight_layout()
    return fig


def figure_sizes(customers: pd.DataFrame, colours: dict) -> plt.Figure:
    sizes = (
        customers.groupby(["segment_id", "segment_name"]).size().reset_index(name="n")
    )
    total = sizes.n.sum()
    fig, ax = plt.subplots(figsize=(9, 0.9 + 0.55 * len(sizes)))
    bars = ax.barh(
        sizes.segment_name, sizes.n, color=[colours[n] for n in sizes.segment_name]
    )
    ax.invert_yaxis()
    for bar, n in zip(bars, sizes.n, strict=True):
        ax.text(
            bar.get_width(),
            bar.get_y() + bar.get_height() / 2,
            f" {n:,} ({n / total:.0%})",
            va="center",
            fontsize=9,
        )
    ax.set_xlabel("customers")
    ax.set_xlim(0, sizes.n.max() * 1.25)
    ax.set_title(f"Segment sizes ({total:,} customers)")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def write_reports(warehouse: Path, out_dir: Path) -> list[Path]:
    """Write the four PNGs; return their paths."""
    tables = read_tables(warehouse)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = (
        tables["customers"]
        .drop_duplicates("segment_id")
        .sort_values("segment_id")
        .segment_name
    )
    colours = segment_colours(names)
    figures = {
        "k_selection": figure_k_selection(tables["k_selection"]),
        "pca_map": figure_pca_map(tables["customers"], tables["pca"], colours),
        "segment_profiles": figure_profiles(tables["centroids"]),
        "segment_sizes": figure_sizes(tables["customers"], colours),
    }
    paths = []
    for name, fig in figures.items():
        paths.append(out_dir / f"{name}.png")
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)
    return paths


DESCRIPTION = (
    "Write the segmentation's PNG reports (k selection, PCA map, segment "
    "profiles and sizes) from the published warehouse, read-only."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options, for :func:`main` and ``cc-segmentation reports``."""
    parser.add_argument(
        "--warehouse",
        type=Path,
        default=Path(os.environ.get("CC_SEGMENTATION_WAREHOUSE", DEFAULT_WAREHOUSE)),
        help="the published warehouse (default: $CC_SEGMENTATION_WAREHOUSE or "
        f"{DEFAULT_WAREHOUSE})",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("warehouse/reports"),
        help="directory for the PNG files (default: %(default)s)",
    )


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Write the reports the parsed ``args`` ask for."""
    if not args.warehouse.exists():
        parser.exit(
            1,
            f"{args.warehouse} does not exist: build it first "
            "(cc-segmentation build, see README).\n",
        )
    for path in write_reports(args.warehouse, args.out):
        print(f"wrote {path}")
    return 0
