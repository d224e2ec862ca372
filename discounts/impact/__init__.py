"""The impact of a push link with a holdout: per-group sufficient statistics from SQL, the statistics in Python."""
