"""The apps layer: what people use on a published warehouse.

``dashboard`` (the Streamlit script; ``cc-segmentation dashboard`` starts
it), ``reports`` (PNG pictures, ``cc-segmentation reports``), ``scoring``
(scores uploaded customers with the published fit: ``score`` and the
``Scorer`` everything else scores through), ``serve`` (the scoring API,
``cc-segmentation serve``) and ``safe_text`` (text from the data made safe
for Markdown and spreadsheets).

Apps only read the published warehouse, read-only.  They may import the
package root, duckdb, pandas, pyarrow, matplotlib, Streamlit, FastAPI and
uvicorn; not ``build`` or ``data``, and nothing in ``segmentation`` needs
them.
"""
