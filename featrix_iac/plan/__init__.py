"""Planning: refresh live state, diff desired / lockfile / live, and the serialisable Plan it produces.

The Plan is frozen once built; each action carries coded reasons, its ordered steps and its
create-before-destroy choice (model.py, steps.py), and apply executes exactly that.
"""
