{#-
    The feature transform, applied to one value.  transform_sql is a SQL
    expression giving 'identity' or 'log1p' (a column of feature_scaling, or
    a quoted literal), so fit and scoring share this one definition.
-#}
{% macro transformed(value_sql, transform_sql) %}
    case {{ transform_sql }}
        when 'log1p' then ln(1 + {{ value_sql }})
        else {{ value_sql }}
    end
{% endmacro %}
