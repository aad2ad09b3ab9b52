"""Processes that do the work: the supervisor, camera workers and housekeeping."""
