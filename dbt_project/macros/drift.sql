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
    differences of consecutive counts.
-#}
{% macro drift_bin_counts(customers, bins, features) %}
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

        unpivot at_or_below
        on
        {% for feature in features %}
        {% set outer = loop %}
        {% for edge in edge_numbers %}
            {{ feature }}__{{ edge }}
            {{- "," if not (loop.last and outer.last) }}
        {% endfor %}
        {% endfor %}
        into name edge_key value n_at_or_below

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
