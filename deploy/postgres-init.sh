#!/bin/sh
# Creates the least-privilege roles (deploy/postgres-init.sql) with passwords from the compose
# secrets; runs once, from /docker-entrypoint-initdb.d, when the volume is created.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v owner_password="$(cat /run/secrets/owner_db_password)" \
    -v app_password="$(cat /run/secrets/app_db_password)" \
    -v temporal_password="$(cat /run/secrets/temporal_db_password)" \
    -f /deploy/postgres-init.sql
