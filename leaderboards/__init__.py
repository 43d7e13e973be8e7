"""modelprint leaderboards: the results store and the tables and plots rendered from it."""
