{#-
    on-run-start: every var is checked once, before any model runs, and a
    bad one stops the build with a line naming the var, its value and what
    is allowed (all bad vars at once).  Without it a bad value would be
    coerced where it is used: `abc | float` is 0, `"yes"` is not true.

    Two vars shape the models' SQL, so parsing meets them first and checks
    them there, with the same line: impute_method (int_feature_impute_values)
    and features (model_feature_names).

    Numbers may be given as numbers or as text that reads as one ("5",
    "0.9"), as --vars from a shell often are.  Booleans are true or false.
    After this check the models may convert with | int and | float.
-#}
{% macro validate_vars() %}
    {% if not execute %}
        {{ return("") }}
    {% endif %}
    {% set problems = [] %}

    {% set whole = [
        ("n_init", 1, none),
        ("random_state", 0, 4294967295),
        ("max_iter", 1, none),
        ("k_min", 2, none),
        ("k_max", 2, none),
        ("k_auto_min", 2, none),
        ("k_selection_max_rows", 1, none),
        ("k_selection_silhouette_rows", 1, none),
        ("fit_max_rows", 1, none),
        ("kmeans_refinement_passes", 0, none),
        ("dbscan_max_rows", 1, none),
        ("silhouette_max_rows", 1, none),
        ("max_missing_measures", 0, cc_feature_names() | length - 1),
    ] %}
    {% for name, low, high in whole %}
        {% set value = var_whole_number(var(name)) %}
        {% if value is none or value < low or (high is not none and value > high) %}
            {% do problems.append(var_problem(
                name,
                "a whole number "
                ~ ("from " ~ low ~ " to " ~ high if high is not none
                   else ">= " ~ low)
            )) %}
        {% endif %}
    {% endfor %}

    {#- (name, lowest, lowest allowed?, highest, highest allowed?) -#}
    {% set real = [
        ("k_min_stability", 0, true, 1, true),
        ("k_min_segment_share", 0, true, 1, false),
        ("identity_max_match_distance", 0, true, none, false),
        ("anomaly_quantile", 0.5, false, 1, true),
        ("frequency_tolerance", 0, true, none, false),
        ("redundant_correlation", 0, false, 1, true),
        ("scaling_clip_quantile", 0, true, 0.5, false),
        ("promote_min_kept_share", 0, false, 1, true),
    ] %}
    {% for name, low, low_in, high, high_in in real %}
        {% set value = var_real_number(var(name)) %}
        {% set ok = value is not none
            and (value >= low if low_in else value > low)
            and (high is none or (value <= high if high_in else value < high)) %}
        {% if not ok %}
            {% set allowed = ("a number " ~ (">= " if low_in else "> ") ~ low
                ~ (" and " ~ ("<= " if high_in else "< ") ~ high
                   if high is not none else "")) %}
            {% if name == "anomaly_quantile" %}
                {% set allowed = allowed ~ " (the share of each segment that is"
                    ~ " not flagged: an anomaly is a minority)" %}
            {% endif %}
            {% do problems.append(var_problem(name, allowed)) %}
        {% endif %}
    {% endfor %}

    {% set k_min = var_whole_number(var("k_min")) %}
    {% set k_max = var_whole_number(var("k_max")) %}
    {% set k_auto_min = var_whole_number(var("k_auto_min")) %}
    {% if k_min is not none and k_max is not none and k_max < k_min %}
        {% do problems.append(
            "var 'k_max' is " ~ k_max ~ ": allowed: a whole number >= k_min ("
            ~ k_min ~ ")"
        ) %}
    {% endif %}
    {% if k_auto_min is not none and k_max is not none and k_auto_min > k_max %}
        {% do problems.append(
            "var 'k_auto_min' is " ~ k_auto_min ~ ": allowed: a whole number "
            ~ "from 2 to k_max (" ~ k_max ~ "), or no k could be chosen"
        ) %}
    {% endif %}
    {#- each sample must hold more customers than there are segments -#}
    {% for name in ["k_selection_max_rows", "k_selection_silhouette_rows"] %}
        {% set rows = var_whole_number(var(name)) %}
        {% if rows is not none and k_max is not none and rows <= k_max %}
            {% do problems.append(
                "var '" ~ name ~ "' is " ~ rows ~ ": allowed: a whole number "
                ~ "> k_max (" ~ k_max ~ "): a sample needs more customers "
                ~ "than segments"
            ) %}
        {% endif %}
    {% endfor %}

    {% set n_clusters = var("n_clusters") %}
    {% if not (n_clusters is string and n_clusters | trim == "auto") %}
        {% set k = var_whole_number(n_clusters) %}
        {% if k is none or k < 2 %}
            {% do problems.append(var_problem(
                "n_clusters", "'auto' or a whole number >= 2"
            )) %}
        {% endif %}
    {% endif %}

    {% if var_flag(var("log1p_money")) is none %}
        {% do problems.append(var_problem("log1p_money", "true or false")) %}
    {% endif %}
    {% set raw_path = var("raw_path") %}
    {% if raw_path is not string or raw_path | trim == "" %}
        {% do problems.append(var_problem(
            "raw_path", "the path of a CSV or Parquet file (or a glob)"
        )) %}
    {% endif %}

    {% if var_flag(var("refit")) is none %}
        {% do problems.append(var_problem("refit", "true or false")) %}
    {% endif %}
    {% if var_flag(var("promote")) is none %}
        {% do problems.append(var_problem("promote", "true or false")) %}
    {% endif %}
    {% if var("as_of") is not none and as_of_text() is none %}
        {% do problems.append(var_problem(
            "as_of", "null (now) or a date or timestamp, e.g. 2026-11-30 or"
            ~ " '2026-11-30 23:59:59'"
        )) %}
    {% endif %}
    {% for check in ["psi", "mix_psi", "confidence_drop", "anomaly_ratio"] %}
        {% set warn = var_real_number(var("drift_" ~ check ~ "_warn")) %}
        {% set error = var_real_number(var("drift_" ~ check ~ "_error")) %}
        {% if warn is none or warn <= 0 %}
            {% do problems.append(var_problem(
                "drift_" ~ check ~ "_warn", "a number > 0"
            )) %}
        {% endif %}
        {% if error is none or error <= 0 %}
            {% do problems.append(var_problem(
                "drift_" ~ check ~ "_error", "a number > 0"
            )) %}
        {% elif warn is not none and error < warn %}
            {% do problems.append(var_problem(
                "drift_" ~ check ~ "_error",
                "a number >= drift_" ~ check ~ "_warn (" ~ warn ~ ")"
            )) %}
        {% endif %}
    {% endfor %}

    {% if problems %}
        {{ exceptions.raise_compiler_error(
            "Bad --vars, nothing was built:\n" ~ problems | join("\n")
        ) }}
    {% endif %}
    {{ return("") }}
{% endmacro %}


{% macro var_problem(name, allowed) %}
    {{ return("var '" ~ name ~ "' is " ~ tojson(var(name)) ~ ": allowed: " ~ allowed) }}
{% endmacro %}


{#- The var as an integer, or none when it is not one (true is not 1). -#}
{% macro var_whole_number(value) %}
    {% if value is boolean %}
        {{ return(none) }}
    {% elif value is integer %}
        {{ return(value) }}
    {% elif value is string
        and modules.re.fullmatch("\s*[+-]?[0-9]+\s*", value) %}
        {{ return(value | int) }}
    {% endif %}
    {{ return(none) }}
{% endmacro %}


{#- The var as a finite number, or none when it is not one. -#}
{% macro var_real_number(value) %}
    {% if value is boolean %}
        {{ return(none) }}
    {% elif value is number %}
        {% set number = value | float %}
    {% elif value is string and modules.re.fullmatch(
        "\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*", value
    ) %}
        {% set number = value | float %}
    {% else %}
        {{ return(none) }}
    {% endif %}
    {#- inf and nan are not allowed anywhere (for them x - x is nan) -#}
    {% if number - number != 0 %}
        {{ return(none) }}
    {% endif %}
    {{ return(number) }}
{% endmacro %}


{#- true / false, also as text ("true", "False"), or none. -#}
{% macro var_flag(value) %}
    {% if value is boolean %}
        {{ return(value) }}
    {% elif value is string and value | trim | lower in ["true", "false"] %}
        {{ return(value | trim | lower == "true") }}
    {% endif %}
    {{ return(none) }}
{% endmacro %}


{#- var('refit') as a boolean (validate_vars has checked it). -#}
{% macro refit() %}
    {{ return(var_flag(var("refit"))) }}
{% endmacro %}


{#- var('promote') as a boolean (validate_vars has checked it). -#}
{% macro promote() %}
    {{ return(var_flag(var("promote"))) }}
{% endmacro %}


{#- var('as_of') as ISO text, or none when it is not a date or timestamp. -#}
{% macro as_of_text() %}
    {#- YAML reads an unquoted 2026-11-30 as a date: take its text -#}
    {% set text = (var("as_of") ~ "") | trim %}
    {% if modules.re.fullmatch(
        "[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?",
        text
    ) %}
        {% set day = text[:10].split("-") %}
        {% set month = day[1] | int %}
        {% set date = day[2] | int %}
        {% if 1 <= month <= 12 and 1 <= date <= 31 %}
            {{ return(text | replace("T", " ")) }}
        {% endif %}
    {% endif %}
    {{ return(none) }}
{% endmacro %}


{#- SQL timestamp of this scoring run: var('as_of'), or when dbt started. -#}
{% macro as_of_timestamp() %}
    {% if var("as_of") is none %}
        {{ return("cast('" ~ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f")
            ~ "' as timestamp)") }}
    {% endif %}
    {{ return("cast('" ~ as_of_text() ~ "' as timestamp)") }}
{% endmacro %}
