"""The local server's HTTP side: the FastAPI app and its lifespan, the auth / limits gate, request bodies, routes
and the JSON documents they answer. Imports the shared modules, ml/ and jobs/.
"""
