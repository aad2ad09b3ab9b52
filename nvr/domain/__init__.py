"""The pure core: events, commands, value types and decision logic. Imports nothing of ours."""
