{{ published_aggregate('candidate_agg_fire_incidents_monthly') }}
