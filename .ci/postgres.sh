# Sourced by .ci/run: a PostgreSQL server on loopback for the PostgreSQL
# store's tests, from Debian's `postgresql` package (installed by .ci/run).
# Idempotent: an existing cluster is started, an existing role kept.
# Exports POSTERN_TEST_POSTGRES, the URL of a role that may create
# databases (each test makes its own and drops it).

pg_cluster_version() {
    pg_lsclusters --no-header 2>/dev/null | awk 'NR == 1 { print $1 }'
}

version=$(pg_cluster_version)
if [ -z "$version" ]; then
    version=$(ls /usr/lib/postgresql | sort -n | tail -1)
    pg_createcluster "$version" main >/dev/null
fi
# Loopback only, whatever the cluster's configuration says.
if ! pg_lsclusters --no-header | awk -v v="$version" '$1 == v && $2 == "main" { print $4 }' | grep -q online; then
    pg_ctlcluster "$version" main start -- -o "-c listen_addresses=127.0.0.1"
fi
for _ in $(seq 1 50); do
    runuser -u postgres -- psql -qAtc "SELECT 1" >/dev/null 2>&1 && break
    sleep 0.2
done
runuser -u postgres -- psql -qAtc \
    "DO \$\$ BEGIN
       IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'postern') THEN
         CREATE ROLE postern LOGIN CREATEDB PASSWORD 'postern-test';
       END IF;
     END \$\$;"
port=$(runuser -u postgres -- psql -qAtc "SHOW port")
export POSTERN_TEST_POSTGRES="postgres://postern:postern-test@127.0.0.1:${port}/postgres"
echo "PostgreSQL $version on 127.0.0.1:$port"
