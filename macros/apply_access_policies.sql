{#- Post-hook of every marts model: re-apply the relation's row-level security, policies and column
    grants (compiled from access_policies/ by `safestats policies apply`) inside the transaction that
    rebuilt it, so the rebuilt relation is never readable without them. A relation no agreement names
    still gets row-level security enabled and forced: it stays invisible until policy says otherwise. -#}
{% macro apply_access_policies() -%}
    select private.apply_access_policies('{{ this.schema }}', '{{ this.identifier }}')
{%- endmacro %}
