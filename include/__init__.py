"""AutoPR platform library: settings, app database, workflows, events, auth, API."""
