{#-
    The promotion gate, one row: does this build's model (the challenger)
    replace the published one (the champion)?  The only place where that is
    decided.  It does when

    - there is no champion yet (a first build, or --full-refresh);
    - it is the champion (refit: false, or a refit that found the same
      model: the same data and settings);
    - the build says promote: true;
    - it keeps the champion's segments: the same k, and at least
      promote_min_kept_share of the new file's customers, scored by both
      models, keep their lasting segment id (promotion_moves).

    Otherwise it is held back, and int_promotion_gate stops the build
    before any scoring mart; cc-segmentation build then scores the file
    with the champion (README "Champion and challenger").
-#}
{% set min_kept_share = var("promote_min_kept_share") | float %}

with

fit_settings as (
    select * from {{ ref("int_kmeans_fit_settings") }}
),

published_champion as (
    select * from {{ ref("int_published_champion") }}
),

promotion_moves as (
    select * from {{ ref("promotion_moves") }}
),

kept as (

    select
        cast(sum(n_customers) as bigint) as n_compared,
        cast(sum(case when is_kept then n_customers else 0 end) as bigint)
            as n_kept
    from promotion_moves

),

compared as (

    select
        fit_settings.model_id as challenger_model_id,
        cast(fit_settings.n_clusters as bigint) as challenger_n_clusters,
        published_champion.model_id as champion_model_id,
        published_champion.n_clusters as champion_n_clusters,
        kept.n_compared,
        kept.n_kept,
        cast(kept.n_kept as double) / nullif(kept.n_compared, 0) as kept_share,
        cast({{ min_kept_share }} as double) as min_kept_share,
        {{ "true" if promote() else "false" }} as is_promote_forced
    from fit_settings
    cross join kept
    left join published_champion on 1 = 1

),

decided as (

    select
        *,
        case
            when champion_model_id is null
                then 'promoted: the first model'
            when challenger_model_id = champion_model_id
                then 'promoted: the champion itself (same data and settings)'
            when is_promote_forced
                then 'promoted by hand (promote: true)'
            when challenger_n_clusters != champion_n_clusters
                then
                    'held back: k = ' || cast(challenger_n_clusters as string)
                    || ' (the champion: k = '
                    || cast(champion_n_clusters as string) || ')'
            when kept_share >= min_kept_share
                then 'promoted: keeps the segments of the champion'
            else
                'held back: ' || cast(n_kept as string) || ' of '
                || cast(n_compared as string)
                || ' customers ('
                || cast(round(100 * kept_share, 1) as string)
                || ' %) keep their segment, below promote_min_kept_share '
                || '{{ min_kept_share }}'
        end as decision
    from compared

),

final as (

    select
        challenger_model_id,
        challenger_n_clusters,
        champion_model_id,
        champion_n_clusters,
        n_compared,
        n_kept,
        kept_share,
        min_kept_share,
        is_promote_forced,
        decision,
        decision like 'promoted%' as is_promoted
    from decided

)

select * from final
