{#-
    The promotion gate's stop: one row (the decision) when the challenger
    is promoted; when it is held back the build fails here, before any
    scoring mart (customer_segments depends on this model), naming both
    models and what to do.  cc-segmentation build then builds the file
    again with the champion (refit: false) and publishes that, keeping
    this build's decision, move matrix and the challenger's fit state.
-#}
{#- a unit test's fixture rows check the rule, not the stop -#}
{% set checked = model.resource_type != "unit_test" %}

with

promotion_decision as (
    select * from {{ ref("promotion_decision") }}
),

guard as (

    -- the error function fails the query
    select
        case
            when {{ checked }} and not promotion_decision.is_promoted
                then {{ raise_error_function() }}(
                    'Challenger ' || promotion_decision.challenger_model_id
                    || ' (k = '
                    || cast(promotion_decision.challenger_n_clusters as string)
                    || ') is held back: '
                    || substr(promotion_decision.decision, 12)
                    || '. The champion ' || promotion_decision.champion_model_id
                    || ' (k = '
                    || cast(promotion_decision.champion_n_clusters as string)
                    || ') still scores. To score this file with it, build'
                    || ' with --vars "{refit: false}" (cc-segmentation build'
                    || ' does so by itself); to promote the challenger, with'
                    || ' --vars "{promote: true}".'
                )
        end as failure
    from promotion_decision

)

select
    promotion_decision.challenger_model_id,
    promotion_decision.is_promoted
from promotion_decision
cross join guard
-- the filter makes DuckDB evaluate the guard (an unused column is pruned)
where guard.failure is null
