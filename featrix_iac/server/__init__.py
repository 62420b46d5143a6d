"""The bundled local Featrix-compatible server: REST routes, SQLite state, real (small) training, test hooks.

Self-contained: imports nothing of featrix_iac but itself. Entry points: `app.create_app` (ASGI app),
`embedded.start_local_server` (child process for `server: {url: local}`), `serve.serve` (the CLI's loop).
"""
