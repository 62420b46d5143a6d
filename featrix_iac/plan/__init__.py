"""Planning: refresh live state, diff desired / lockfile / live, and the serialisable Plan it produces."""
