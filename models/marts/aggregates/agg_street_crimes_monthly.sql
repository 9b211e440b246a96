{{ published_aggregate('candidate_agg_street_crimes_monthly') }}
