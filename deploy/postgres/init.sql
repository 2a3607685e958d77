-- Databases beside the app database (POSTGRES_DB): Airflow's metadata and MLflow's tracking store.
-- Each is its own database, so Airflow's, MLflow's and the platform's migrations never meet.
CREATE DATABASE airflow OWNER autopr;
CREATE DATABASE mlflow OWNER autopr;
