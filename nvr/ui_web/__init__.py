"""The remote web UI (Starlette). Reads projections; emits commands as events."""
