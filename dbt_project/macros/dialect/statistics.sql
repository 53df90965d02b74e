{#-
    Lists, structs, quantiles and unpivots in the marts, drift and lifecycle
    models, dispatched on the adapter like dialect/functions.sql (default: DuckDB;
    spark__: Spark SQL).  The DuckDB SQL is what the models wrote before
    the Spark port; each Spark version gives the same values.
-#}

{#-
    Structs, lists and list elements: sql_struct, sql_list and
    list_element in dialect/assignment.sql.
-#}


{#- One row per element of a list (a select-list expression). -#}
{% macro unnest_list(list) %}
    {{ return(adapter.dispatch("unnest_list", "cc_segmentation")(list)) }}
{% endmacro %}

{% macro default__unnest_list(list) %}
    {{- "unnest(" ~ list ~ ")" -}}
{% endmacro %}

{% macro spark__unnest_list(list) %}
    {{- "explode(" ~ list ~ ")" -}}
{% endmacro %}


{#-
    One row per struct of a list of structs, one column per field (the
    whole select list: it names the columns itself).
-#}
{% macro unnest_structs(list) %}
    {{ return(adapter.dispatch("unnest_structs", "cc_segmentation")(list)) }}
{% endmacro %}

{% macro default__unnest_structs(list) %}
    {{- "unnest(" ~ list ~ ", recursive := true)" -}}
{% endmacro %}

{% macro spark__unnest_structs(list) %}
    {{- "inline(" ~ list ~ ")" -}}
{% endmacro %}


{#-
    Exact quantiles of `expression` at each of `quantiles` (numbers), as one
    list, from one sort.  cont interpolates linearly between the two
    nearest values (numpy's default); disc takes a value of the data, the
    first whose cumulative share reaches the quantile.
-#}
{% macro quantiles_cont(expression, quantiles) %}
    {{ return(adapter.dispatch("quantiles_cont", "cc_segmentation")(
        expression, quantiles
    )) }}
{% endmacro %}

{% macro default__quantiles_cont(expression, quantiles) %}
    {{- "quantile_cont(" ~ expression ~ ", [" ~ quantiles | join(", ") ~ "])" -}}
{% endmacro %}

{% macro spark__quantiles_cont(expression, quantiles) %}
    {{- "percentile(" ~ expression ~ ", array(" ~ quantiles | join(", ") ~ "))" -}}
{% endmacro %}

{% macro quantiles_disc(expression, quantiles) %}
    {{ return(adapter.dispatch("quantiles_disc", "cc_segmentation")(
        expression, quantiles
    )) }}
{% endmacro %}

{% macro default__quantiles_disc(expression, quantiles) %}
    {{- "quantile_disc(" ~ expression ~ ", [" ~ quantiles | join(", ") ~ "])" -}}
{% endmacro %}

{% macro spark__quantiles_disc(expression, quantiles) %}
    {{- "percentile_disc(array(" ~ quantiles | join(", ")
        ~ ")) within group (order by " ~ expression ~ ")" -}}
{% endmacro %}


{#-
    The adjusted Fisher-Pearson skewness G1 (pandas .skew()), NULL below 3
    values or when they are all equal.  DuckDB's skewness is G1; Spark's is
    the population g1, and G1 = g1 * sqrt(n (n - 1)) / (n - 2).
-#}
{% macro sample_skewness(expression) %}
    {{ return(adapter.dispatch("sample_skewness", "cc_segmentation")(expression)) }}
{% endmacro %}

{% macro default__sample_skewness(expression) %}
    {{- "skewness(" ~ expression ~ ")" -}}
{% endmacro %}

{% macro spark__sample_skewness(expression) %}
    {%- set n = "count(" ~ expression ~ ")" -%}
    {{- "case when " ~ n ~ " > 2 then skewness(" ~ expression ~ ") * sqrt("
        ~ n ~ " * (" ~ n ~ " - 1)) / (" ~ n ~ " - 2) end" -}}
{% endmacro %}


{#- unpivot_columns is in dialect/functions.sql (it keeps only the unpivoted columns). -#}


{#-
    `not materialized` for a CTE read twice: DuckDB would otherwise copy
    it whole first.  Spark inlines CTEs and has no such keyword.
-#}
{% macro cte_not_materialized() %}
    {{ return(adapter.dispatch("cte_not_materialized", "cc_segmentation")()) }}
{% endmacro %}

{% macro default__cte_not_materialized() %}
    {{- "not materialized" -}}
{% endmacro %}

{% macro spark__cte_not_materialized() %}
    {{- "" -}}
{% endmacro %}


{#-
    Freshness of the raw file(s) at `path`: the newest modification time.
    DuckDB's read_blob and Spark's binaryFile source read only the
    metadata columns asked for, not the files' contents.
-#}
{% macro raw_file_modified_at(path) %}
    {{ return(adapter.dispatch("raw_file_modified_at", "cc_segmentation")(path)) }}
{% endmacro %}

{% macro default__raw_file_modified_at(path) %}
    select max(last_modified)
    from read_blob({{ sql_literal(path) }})
{% endmacro %}

{% macro spark__raw_file_modified_at(path) %}
    select max(modificationTime)
    from binaryFile.`{{ path | replace("`", "``") }}`
{% endmacro %}
