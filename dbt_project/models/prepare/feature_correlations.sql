{#-
    Pearson correlation of every pair of raw measures among the valid
    customers, one row per unordered pair (feature_a before feature_b in file
    order; no diagonal): 17 * 16 / 2 = 136 rows.  Each r uses the customers
    who report both measures (pairwise complete, like pandas .corr()).

    A pair is redundant at |r| >= var('redundant_correlation').  The reduced
    feature set (reduced_feature_names) leaves out one measure of each
    redundant pair; is_reduced_set_reason marks the pairs it cites.

    All 136 correlations come from one scan of valid_customers, one corr()
    per pair written out by a Jinja loop, then unnested to long form.  A
    self-join of the unpivoted measures on the customer reads as well but
    makes 136 rows per customer before aggregating: same r (to 1e-13), same
    speed on the real file, but 6 to 9 times slower on a million generated
    customers (7-11 s against 1.2-1.5 s on the project's 2-core machine).
-#}
{% set features = cc_feature_names() %}
{% set threshold = var("redundant_correlation") | float %}

with

customers_validated as (

    select * from {{ ref("int_customers_validated") }}

),

valid_customers as (

    select * from customers_validated
    where is_valid

),

pair_stats as (

    -- corr() and regr_count() skip a row when either value is missing
    select
        {% set pairs = [] -%}
        {% for feature_a in features -%}
            {% set position_a = loop.index -%}
            {% for feature_b in features[position_a:] -%}
                {% do pairs.append(sql_struct({
                    "feature_a": "'" ~ feature_a ~ "'",
                    "feature_b": "'" ~ feature_b ~ "'",
                    "feature_a_position": position_a,
                    "feature_b_position": position_a + loop.index,
                    "pearson_r": "corr(" ~ feature_a ~ ", " ~ feature_b ~ ")",
                    "n_pairs": "regr_count(" ~ feature_a ~ ", "
                        ~ feature_b ~ ")",
                })) -%}
            {% endfor -%}
        {% endfor -%}
        {{ sql_list(pairs) }} as pairs
    from valid_customers

),

pairs as (

    select {{ unnest_structs("pairs") }}
    from pair_stats

),

reduced_feature_set as (

    select
        {% set quoted = [] -%}
        {% for feature in reduced_feature_names() -%}
            {% do quoted.append("'" ~ feature ~ "'") -%}
        {% endfor -%}
        {{ sql_list(quoted) }} as feature_names

),

pairs_flagged as (

    select
        pairs.*,
        -- an undefined r (a constant measure: NaN on DuckDB, where NaN
        -- compares above every number, NULL on Spark) makes no pair redundant
        coalesce(
            not isnan(pairs.pearson_r)
            and abs(pairs.pearson_r) >= {{ threshold }},
            false
        ) as is_redundant,
        not array_contains(reduced_feature_set.feature_names, pairs.feature_a)
            as is_a_left_out,
        not array_contains(reduced_feature_set.feature_names, pairs.feature_b)
            as is_b_left_out
    from pairs
    cross join reduced_feature_set

),

final as (

    select
        feature_a,
        feature_b,
        feature_a_position,
        feature_b_position,
        is_redundant,
        -- regr_count() is a uinteger
        cast(n_pairs as bigint) as n_pairs,
        -- corr() is NaN (DuckDB) or NULL (Spark) when a measure is constant
        -- (r is undefined there), and may round to just beyond 1 when a few
        -- profiles repeat
        case
            when pearson_r is not null and not isnan(pearson_r)
                then greatest(-1, least(1, pearson_r))
        end as pearson_r,
        case
            when is_a_left_out and not is_b_left_out then feature_a
            when is_b_left_out and not is_a_left_out then feature_b
        end as left_out_feature,
        is_redundant and is_a_left_out <> is_b_left_out
            as is_reduced_set_reason
    from pairs_flagged

)

select * from final
order by feature_a_position, feature_b_position
