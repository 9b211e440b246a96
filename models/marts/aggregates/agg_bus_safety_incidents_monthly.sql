{{ published_aggregate('candidate_agg_bus_safety_incidents_monthly') }}
