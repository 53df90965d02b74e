{#-
    Functions whose name or behaviour differs between the engines, one macro
    each, dispatched on the adapter (default: DuckDB; spark__: Spark SQL).
    The models call these and stay one definition for both engines.
-#}

{#-
    A 64-bit hash of the expressions, for fixed-seed sampling and input
    fingerprints.  DuckDB's hash and Spark's xxhash64 are different
    functions, so a sample or fingerprint is stable within an engine, not
    across engines (files up to the sample sizes are used whole on both).
    Spark's value is widened to decimal so that a sum of many never wraps.
-#}
{% macro row_hash(expressions) %}
    {{ return(adapter.dispatch("row_hash", "cc_segmentation")(expressions)) }}
{% endmacro %}

{% macro default__row_hash(expressions) %}
    hash({{ expressions | join(", ") }})
{% endmacro %}

{% macro spark__row_hash(expressions) %}
    cast(xxhash64({{ expressions | join(", ") }}) as decimal(20, 0))
{% endmacro %}
