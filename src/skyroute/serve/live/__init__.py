"""Live streams: every stored decision and spot prediction, pushed to its tenant's WebSocket
subscribers.

``events`` names each stream's event and filters, ``hub`` fans events of every stream out to
this process's subscribers through bounded queues, ``fanout`` carries them between worker
processes and replicas (Redis pub/sub, ``LOCAL_PREDICTION_STORE=redis``), ``replay`` reads a
stream's missed events back from the database for a resume cursor, and ``streams`` ties them
together per app.
"""
