"""Running plugin code on a cluster: the orchestrator, the common steps, and health checks."""
