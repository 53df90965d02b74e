{#-
    The challenger-vs-champion move matrix of this build: how many of the
    new file's valid customers the champion (the published model) puts in
    each segment and the challenger (this build's fit) in each segment.
    A customer keeps its segment when both give it the same lasting id.
    Empty when there is nothing to compare (int_champion_scores).
-#}

with

fit_settings as (
    select * from {{ ref("int_kmeans_fit_settings") }}
),

challenger_scores as (
    select * from {{ ref("int_customers_assigned") }}
),

champion_scores as (
    select * from {{ ref("int_champion_scores") }}
),

moves as (

    select
        champion_scores.champion_model_id,
        champion_scores.segment_id as champion_segment_id,
        challenger_scores.segment_id as challenger_segment_id,
        count(*) as n_customers
    from champion_scores
    inner join challenger_scores
        on champion_scores.cust_id = challenger_scores.cust_id
    group by
        champion_scores.champion_model_id,
        champion_scores.segment_id,
        challenger_scores.segment_id

),

final as (

    select
        fit_settings.model_id as challenger_model_id,
        moves.champion_model_id,
        moves.champion_segment_id,
        cast(moves.challenger_segment_id as bigint) as challenger_segment_id,
        moves.n_customers,
        moves.champion_segment_id = moves.challenger_segment_id as is_kept
    from moves
    cross join fit_settings

)

select * from final
order by champion_segment_id, challenger_segment_id
