"""The Workflow Builder step "Create MaxCare task": a workflow's inputs become a task."""
