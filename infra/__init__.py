"""How to run it: the embedded PostgreSQL and Tansu launchers, the compose file."""
