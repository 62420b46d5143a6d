"""One handler per resource kind: field rules as data, desired / read / find_existing, and one API call per step.

Contract (resources/base.py; the registry is resources/registry.py: HANDLERS[kind]):

- `rules`: how each desired field changes (in place by its route, replace, computed, ignored; write-only
  fields compared by the hash kept in the lockfile; sensitive fields redacted).
- `desired(key, resource, ctx)`: the comparable normal form of a manifest resource, with server defaults
  filled in, secrets as salted hashes, data as its fingerprint; `read(client, entry)` returns every rule
  field (live where the server reports it, else from the lockfile), so right after an apply they are equal.
- `read` / `read_all` never mistake an error for a deletion: None only after repeated 404s.
- `find_in(get, probe)` (through `find_existing` / `find_each`, one GET per list or document): the object
  an interrupted apply (or a lost lockfile) left, by the kind's identity from documented fields (Probe);
  None when surely absent, CannotTell / Ambiguous (with `import_id`s) when it cannot tell.
- `create`, `update(step)`, `delete(step)`, `poll`: one API call each; `followups`, `update_steps`,
  `delete_steps` say which steps (in order) an action needs; `wait_ready` polls until a training is done.

Webhooks are a field group of the predictor (fields `webhooks` and `webhook_secret`, steps disable_webhook
then configure_webhooks), not a kind: they have no id or lifecycle of their own (see resources/webhooks.py).
"""
