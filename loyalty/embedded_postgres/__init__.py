"""Django database backend for the embedded PostgreSQL (ENGINE = "loyalty.embedded_postgres")."""
