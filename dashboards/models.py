"""Materialized risk metrics (written only by the recompute service; see the risk-engine issue)."""
