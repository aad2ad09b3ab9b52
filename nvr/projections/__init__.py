"""Projections: pure folds of the log into the tables people query, and their stores."""
