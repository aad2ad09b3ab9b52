"""The operator's desktop app (PySide6). Reads projections and shared-memory frames; emits commands."""
