{#-
    The champion this build starts from: the model the published warehouse
    scores with (macros/registry/champion.sql), one row, or none when there is no
    such model (a first build, or --full-refresh).
-#}
-- {{ reads_published_model() }}
{% set champion = published_champion() %}

with

final as (

    {% if champion is none %}
        select
            cast(null as string) as model_id,
            cast(null as bigint) as n_clusters
        from (select 1 as placeholder) as no_champion -- noqa: AL05
        where 1 = 0
    {% else %}
        select
            {{ sql_literal(champion.model_id) }} as model_id,
            cast({{ champion.n_clusters | int }} as bigint) as n_clusters
    {% endif %}

)

select * from final
