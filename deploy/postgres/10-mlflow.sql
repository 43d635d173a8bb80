-- MLflow's tracking store gets its own database: MLflow and the SkyRoute server both keep an
-- Alembic version table, which must not be shared (deploy/compose.yaml).
CREATE DATABASE mlflow OWNER skyroute;
