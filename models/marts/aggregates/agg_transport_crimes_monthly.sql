{{ published_aggregate('candidate_agg_transport_crimes_monthly') }}
