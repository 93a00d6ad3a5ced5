"""A plugin for the job engine's tests: queues, and workflows whose steps leave traces."""
