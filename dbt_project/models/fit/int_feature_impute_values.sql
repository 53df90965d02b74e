{#-
    Fit state, part 1: the value that stands in for a missing measure, from
    the valid customers' reported values (median by default; see
    var('impute_method')).  A refit: false build takes the published
    model's values from fitted_features instead (macros/registry/frozen_model.sql).
-#}
-- {{ reads_published_model() }}
{% set method = var("impute_method") %}
{#- a unit test's few fixture rows are not a file to segment -#}
{% set checked = model.resource_type != "unit_test" %}
{% if method not in ("median", "mean") %}
    {#- also checked by validate_vars, but parsing comes first -#}
    {{ exceptions.raise_compiler_error(
        var_problem("impute_method", "median or mean")
    ) }}
{% endif %}

with

customers_validated as (

    select * from {{ ref("int_customers_validated") }}

),

valid_customers as (

    select * from customers_validated
    where is_valid

),

reported_values as (

    {#- unpivot leaves missing values out, which is what imputation needs -#}
    {{ unpivot_columns(
        "valid_customers", cc_feature_names(), "feature_name", "reported_value"
    ) }}

),

impute_values as (

    {% if refit() %}
        select
            feature_name,
            {{ method }}(cast(reported_value as double)) as impute_value,
            '{{ method }}' as impute_method,
            count(*) as n_reported
        from reported_values
        group by feature_name
    {% else %}
        -- the published model's, as fitted
        select
            feature_name,
            impute_value,
            impute_method,
            n_reported
        from {{ published_state("fitted_features") }}
        where model_id = '{{ frozen_model_id() }}'
    {% endif %}

),

first_quarantined as (

    select 'row ' || source_row_number || ': ' || quarantine_reason as reason
    from customers_validated
    where not is_valid
    order by source_row_number
    limit 1

),

counts as (

    select
        count(*) as n_rows,
        count_if(is_valid) as n_valid,
        (select first_quarantined.reason from first_quarantined) as first_reason
    from customers_validated

),

unreported as (

    -- measures no valid customer reports: nothing to impute them with
    select
        {{ ordered_string_agg(
            "upper(measures.feature_name)", "', '", "measures.feature_name"
        ) }} as column_names
    from (
        values {% for feature in cc_feature_names() -%}
            ('{{ feature }}'){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as measures (feature_name) -- noqa: AL05
    where
        measures.feature_name not in (
            select impute_values.feature_name from impute_values
        )

),

guard as (

    -- Stops the build with the file named when the input cannot be
    -- segmented as a whole (the error function fails the query).
    select
        case
            when not {{ checked }}
                then null
            when counts.n_valid < {{ min_customers() }}
                then {{ raise_error_function() }}(
                    'Raw file ' || {{ sql_literal(var("raw_path")) }}
                    || ' has ' || counts.n_valid || ' valid customers in '
                    || counts.n_rows || ' rows; the segmentation needs at '
                    || 'least {{ min_customers() }}'
                    || coalesce(
                        ' (first quarantined ' || counts.first_reason || ')',
                        ''
                    )
                )
            when unreported.column_names is not null
                then {{ raise_error_function() }}(
                    'Raw file ' || {{ sql_literal(var("raw_path")) }}
                    || ': no valid customer has a value for '
                    || unreported.column_names
                    || ', so it cannot be imputed or used'
                )
        end as failure
    from counts
    cross join unreported

)

select impute_values.*
from impute_values
cross join guard
-- the filter makes DuckDB evaluate the guard (an unused column is pruned)
where guard.failure is null
