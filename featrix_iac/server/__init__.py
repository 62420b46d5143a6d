"""The bundled local Featrix-compatible server: REST routes, SQLite state, real (small) training, test hooks.

Self-contained: imports nothing of featrix_iac but itself. Layout, imports going one way (tests/unit/test_cycles.py):
shared modules here (service, store, keys, limits, durations, webhooks, testhooks, leases) <- `ml/` (tables,
encoding, models, training) <- `jobs/` (workers, job records, publishing, quota) <- `http/` (app, gate, routes)
<- the process entry points here. Entry points: `http.app.create_app` (ASGI app; its lifespan runs `jobs/`),
`embedded.start_local_server` (child process for `server: {url: local}`), `serve.serve` (the CLI's loop).
"""
