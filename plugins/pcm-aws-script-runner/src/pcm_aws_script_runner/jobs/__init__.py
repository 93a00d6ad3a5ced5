"""The plugin's durable work (DBOS workflows and steps): imported only by the job engine."""
