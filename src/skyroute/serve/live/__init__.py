"""Live decision streams: every stored decision, pushed to its tenant's WebSocket subscribers.

``events`` names the event and the filters, ``hub`` fans events out to this process's
subscribers through bounded queues, ``fanout`` carries them between worker processes and
replicas (Redis pub/sub, ``LOCAL_PREDICTION_STORE=redis``), ``replay`` reads missed decisions
back from the database for a resume cursor, and ``streams`` ties them together per app.
"""
