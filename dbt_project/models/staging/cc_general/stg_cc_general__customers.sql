{#- Fail fast, naming file and columns, when the file is unusable. -#}
{% do assert_raw_file_is_readable(var("raw_path")) %}

with

customers as (

    select * from {{ source("cc_general", "customers") }}

),

numbered as (

    -- The scan keeps file order (preserve_insertion_order), so this is the
    -- data row's position in the file: quarantine reports cite it.
    select
        *,
        row_number() over () as source_row_number
    from customers

),

renamed as (

    -- the scoring chain's first step (scoring_chain.sql): scoring_query
    -- trims uploaded customers the same way
    {{ chain_trimmed("numbered", ["source_row_number"]) }}

)

select * from renamed
