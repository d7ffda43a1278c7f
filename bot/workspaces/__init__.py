"""Many workspaces: installations through Slack's OAuth, their tokens kept encrypted, and the
MaxCare organization each one is connected to."""
