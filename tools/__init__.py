"""Tools that work on the services from outside: the benchmark (`loyalty bench`). Not a
service: nothing under `services/` or `projections/` imports them but the CLI that mounts them."""
