"""The append-only event log: the LMDB store, its single appender, readers and checks."""
