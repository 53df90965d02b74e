{#-
    The model this build scores with, one row: the one place that says so,
    and the only model after the fit that reads var('refit').  Scoring
    (customer_segments carries its id, checked by the test
    customer_segments_use_the_scoring_model) and monitoring (the run's
    record, the drift baselines) read it here.

    - model_id: the challenger when promotion_decision promotes it, else
      the champion (a held-back challenger stops the build at
      int_promotion_gate before any scoring mart, so today a build that
      scores always scores with a promoted model);
    - is_fitted_on_this_file: this build fitted the model from this file
      (a refit build), so its customers are the fit's: only then may the
      drift baselines be written (feature_drift_bins,
      segment_drift_baselines).  A refit: false build scores the file with
      the published model: false.
-#}
with

promotion_decision as (
    select * from {{ ref("promotion_decision") }}
),

final as (

    select
        case
            when promotion_decision.is_promoted
                then promotion_decision.challenger_model_id
            else promotion_decision.champion_model_id
        end as model_id,
        promotion_decision.is_promoted
        and {{ "true" if refit() else "false" }} as is_fitted_on_this_file,
        promotion_decision.decision
    from promotion_decision

)

select * from final
