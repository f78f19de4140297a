#!/usr/bin/env bash
# Make sure PostgreSQL answers on 127.0.0.1:5432 before the run history's
# tests (runs/postgres_test.go) run: install Debian's postgresql if it is
# missing, let user postgres in over loopback TCP without a password, start
# the cluster if it is stopped, do nothing (and say nothing) if it already
# answers. Run as root on a Debian machine.
set -euo pipefail

answers() {
	# bash's /dev/tcp avoids depending on nc; the subshell keeps the fd local.
	timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/5432' 2>/dev/null
}

if answers; then
	exit 0
fi

cluster() {
	pg_lsclusters -h 2>/dev/null | awk '$3 == 5432 { print $1, $2; exit }'
}

if ! command -v pg_lsclusters >/dev/null 2>&1 || [ -z "$(cluster)" ]; then
	echo "ci: installing postgresql"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
read -r version name < <(cluster) || true
if [ -z "${version:-}" ]; then
	echo "ci: no PostgreSQL cluster on port 5432 after installing postgresql" >&2
	exit 1
fi

# The tests connect as postgres over TCP without a password (as on the
# developers' machines): trust loopback, and nothing else. pg_hba.conf's
# first matching line wins, so these go first.
hba=/etc/postgresql/$version/$name/pg_hba.conf
if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
	sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
fi

echo "ci: starting postgresql $version/$name"
if pg_ctlcluster "$version" "$name" status >/dev/null 2>&1; then
	pg_ctlcluster "$version" "$name" reload
else
	pg_ctlcluster "$version" "$name" start
fi
# pg_ctlcluster start waits for the server; the listener may lag a moment.
for _ in $(seq 1 150); do
	answers && exit 0
	sleep 0.2
done
echo "ci: postgresql started but 127.0.0.1:5432 does not answer within 30s" >&2
exit 1
