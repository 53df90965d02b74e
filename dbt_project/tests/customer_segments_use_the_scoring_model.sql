{#-
    Scoring reads only the model int_scoring_model names: every scored
    customer carries its id.  Rows returned fail: a customer scored by
    another model, or a build that scored customers with no scoring model.
-#}
select
    customer_segments.cust_id,
    customer_segments.model_id,
    scoring_model.model_id as scoring_model_id
from {{ ref("customer_segments") }} as customer_segments
left join {{ ref("int_scoring_model") }} as scoring_model
    on customer_segments.model_id = scoring_model.model_id
where scoring_model.model_id is null
