"""One router per resource: ops (health, readiness), analyze, stats, topics, models, admin (reload, training)."""
