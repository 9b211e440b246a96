{{ published_aggregate('candidate_agg_recorded_crimes_monthly') }}
