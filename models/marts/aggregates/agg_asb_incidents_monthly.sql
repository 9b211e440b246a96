{{ published_aggregate('candidate_agg_asb_incidents_monthly') }}
