{#- Fail fast, naming file and columns, when the file is unusable. -#}
{% do assert_raw_file_is_readable(var("raw_path")) %}

{#- On Spark the source is a table over the file (spark_raw_file.sql). -#}
{% do register_raw_source(var("raw_path")) %}

with

customers as (

    -- The data row's position in the file (macro file_row_number):
    -- quarantine reports cite it.
    select
        *,
        {{ file_row_number() }} as source_row_number
    from {{ source("cc_general", "customers") }}

),

renamed as (

    -- the scoring chain's first step (scoring_chain.sql): scoring_query
    -- trims uploaded customers the same way
    {{ chain_trimmed("customers", ["source_row_number"]) }}

)

select * from renamed
