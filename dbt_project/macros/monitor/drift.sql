{#-
    Drift alarms (feature_drift_bins, segment_drift_baselines, segment_drift):
    the binning rule and the PSI term, written once, so the fit's shares and
    a scoring run's shares come from the same SQL.  On the fit's own
    customers the two are then equal to the last bit and every PSI is 0.
-#}

{#- Fit-time bins are deciles: 9 edges at most, 10 bins. -#}
{% macro drift_quantiles() %}
    {{ return([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]) }}
{% endmacro %}


{#-
    The share an empty bin or segment counts with in a PSI (0.01 %), so
    that one empty bin does not make the index infinite.  A bin empty at
    fit and 1 % full now adds (0.01 - 0.0001) * ln(100) = 0.046.
-#}
{% macro drift_share_floor() %}
    {{ return(0.0001) }}
{% endmacro %}


{#-
    One bin's (or one segment's) term of the population stability index,
    (current - fit) * ln(current / fit), each share floored at
    drift_share_floor().  Both arguments are SQL expressions.
-#}
{% macro psi_term(current_share, fit_share) %}
    {%- set current -%}
        greatest({{ current_share }}, {{ drift_share_floor() }})
    {%- endset -%}
    {%- set fit -%}
        greatest({{ fit_share }}, {{ drift_share_floor() }})
    {%- endset -%}
    ({{ current }} - {{ fit }}) * ln({{ current }} / {{ fit }})
{%- endmacro %}


{#-
    Edges are compared with a relative tolerance: a value at most 1e-9
    (relative, at least 1e-9 absolute) above an edge counts as on it.
    Fitted values can differ in their last bits from build to build
    (a mean imputation's parallel sum), and a tie group sitting on an edge
    must not jump to the next bin for that; real measures are never that
    close without being equal.
-#}
{% macro drift_edge_tolerance() %}
    {{ return(1e-9) }}
{% endmacro %}


{#-
    How many rows of `customers` (a column per feature, named after it)
    fall in each bin of `bins` (feature_name, bin_number, upper_edge; bins
    numbered from 1 upwards, the last one with a NULL upper edge).  Bins are
    closed above: a customer is in the first bin whose upper edge is at or
    above its value, so a customer on an edge (ties) is in the bin below it.

    Returns feature_name, bin_number, n_in_bin and n_customers (the rows
    of `customers`).  One pass over the customers whatever their number:
    per feature and edge a count of the customers at or below it (one
    count_if per edge, vectorized, no per-customer rows), then the bins are
    differences of consecutive counts.  A customer without a value (NULL)
    is at or below no edge, so in the last bin.
-#}
{% macro drift_bin_counts(customers, bins, features) %}
    {{ return(adapter.dispatch("drift_bin_counts", "cc_segmentation")(
        customers, bins, features
    )) }}
{% endmacro %}

{% macro default__drift_bin_counts(customers, bins, features) %}
    {%- set edge_numbers = range(1, drift_quantiles() | length + 1) -%}
    with

    edge_row as (

        select
            {% for feature in features %}
            {% set outer = loop %}
            {% for edge in edge_numbers %}
            max(
                upper_edge + {{ drift_edge_tolerance() }}
                * greatest(abs(upper_edge), 1)
            ) filter (
                where
                    feature_name = '{{ feature }}'
                    and bin_number = {{ edge }}
            ) as {{ feature }}__{{ edge }}
            {{- "," if not (loop.last and outer.last) }}
            {% endfor %}
            {% endfor %}
        from {{ bins }}

    ),

    at_or_below as (

        select
            count(*) as n_customers,
            {% for feature in features %}
            {% set outer = loop %}
            {% for edge in edge_numbers %}
            count_if(
                scored.{{ feature }} <= edge_row.{{ feature }}__{{ edge }}
            ) as {{ feature }}__{{ edge }}
            {{- "," if not (loop.last and outer.last) }}
            {% endfor %}
            {% endfor %}
        from {{ customers }} as scored
        cross join edge_row

    ),

    at_or_below_long as (

        {% set edge_keys = [] -%}
        {% for feature in features -%}
            {% for edge in edge_numbers -%}
                {% do edge_keys.append(feature ~ "__" ~ edge) -%}
            {% endfor -%}
        {% endfor -%}
        {{ unpivot_columns(
            "at_or_below", edge_keys, "edge_key", "n_at_or_below"
        ) }}

    ),

    cumulative as (

        select
            bins.feature_name,
            bins.bin_number,
            totals.n_customers,
            -- the last bin has no upper edge: every customer is at or below
            case
                when bins.upper_edge is null then totals.n_customers
                else at_or_below_long.n_at_or_below
            end as n_at_or_below
        from {{ bins }} as bins
        cross join (select n_customers from at_or_below) as totals
        left join at_or_below_long
            on bins.feature_name || '__' || bins.bin_number
            = at_or_below_long.edge_key

    ),

    counted as (

        select
            feature_name,
            bin_number,
            n_customers,
            cast(
                n_at_or_below - coalesce(
                    lag(n_at_or_below) over (
                        partition by feature_name order by bin_number
                    ),
                    0
                ) as bigint
            ) as n_in_bin
        from cumulative

    )

    select * from counted
{% endmacro %}


{#-
    Spark: one row per customer and feature (unpivot), its bin the number
    of the feature's edges it is above, plus one; then a count per bin.
    The same bins and counts as DuckDB's, but Spark compiles the 153
    count_if columns of one row into code too large for whole-stage
    codegen, and its fallback fails on the plan (a union) it then ships
    to the tasks.
-#}
{% macro spark__drift_bin_counts(customers, bins, features) %}
    with

    feature_edges as (

        -- the edges in bin order (edges rise with the bin number), each
        -- with its tolerance; collect_list leaves out the open last bin
        select
            feature_name,
            array_sort(collect_list(
                upper_edge + {{ drift_edge_tolerance() }}
                * greatest(abs(upper_edge), 1)
            )) as edges
        from {{ bins }}
        group by feature_name

    ),

    customer_values as (

        select
            feature_name,
            feature_value
        from (select {{ features | join(", ") }} from {{ customers }})
        unpivot include nulls (
            feature_value for feature_name in ({{ features | join(", ") }})
        )

    ),

    customer_bins as (

        select
            customer_values.feature_name,
            case
                when customer_values.feature_value is null
                    then size(feature_edges.edges) + 1
                else size(filter(
                    feature_edges.edges,
                    edge -> customer_values.feature_value > edge
                )) + 1
            end as bin_number
        from customer_values
        inner join feature_edges
            on customer_values.feature_name = feature_edges.feature_name

    ),

    bin_sizes as (

        select
            feature_name,
            bin_number,
            count(*) as n_in_bin
        from customer_bins
        group by feature_name, bin_number

    ),

    counted as (

        select
            bins.feature_name,
            bins.bin_number,
            totals.n_customers,
            coalesce(bin_sizes.n_in_bin, 0) as n_in_bin
        from {{ bins }} as bins
        cross join
            (select count(*) as n_customers from {{ customers }}) as totals
        left join bin_sizes
            on
                bins.feature_name = bin_sizes.feature_name
                and bins.bin_number = bin_sizes.bin_number

    )

    select * from counted
{% endmacro %}


{#-
    The var drift_<check>_<level> (validate_vars has checked it is a
    number > 0) as a SQL double.
-#}
{% macro drift_threshold(check, level) %}
    {%- set threshold = var("drift_" ~ check ~ "_" ~ level) | float -%}
    {{- "cast(" ~ threshold ~ " as double)" -}}
{% endmacro %}


{#- When this build started (dbt's run_started_at), as a SQL timestamp. -#}
{% macro drift_recorded_at() %}
    {{- "cast('" ~ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f")
        ~ "' as timestamp)" -}}
{% endmacro %}
