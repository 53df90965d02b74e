{#-
    Fit state, part 1: the value that stands in for a missing measure, from
    the valid customers' reported values (median by default; see
    var('impute_method')).
-#}
{% set method = var("impute_method") %}
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

    -- unpivot leaves missing values out, which is what imputation needs
    unpivot (
        select {{ cc_feature_names() | join(", ") }}
        from valid_customers
    )
    on {{ cc_feature_names() | join(", ") }}
    into name feature_name value reported_value

),

impute_values as (

    select
        feature_name,
        {{ method }}(cast(reported_value as double)) as impute_value,
        '{{ method }}' as impute_method,
        count(*) as n_reported
    from reported_values
    group by feature_name

)

select * from impute_values
