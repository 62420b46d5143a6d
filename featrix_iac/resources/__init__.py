"""One handler per resource kind: read / create / update / delete / wait_ready, and field rules as data."""
