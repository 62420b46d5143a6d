"""Background work of the local server: training workers, job records, publish / shadow jobs, the training quota.

`runtime.background` runs it for the app's lifespan. Imports the shared modules and ml/, never http/.
"""
