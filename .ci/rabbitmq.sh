#!/usr/bin/env bash
# Make sure RabbitMQ answers on 127.0.0.1:5672 before the AMQP tests run:
# install it if it is missing, start it if it is stopped, do nothing (and say
# nothing) if it already runs. Run as root on a Debian machine.
set -euo pipefail

answers() {
	# bash's /dev/tcp avoids depending on nc; the subshell keeps the fd local.
	timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/5672' 2>/dev/null
}

if answers; then
	exit 0
fi

if ! command -v rabbitmq-server >/dev/null 2>&1; then
	echo "ci: installing rabbitmq-server"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
	# The package starts the service where an init system runs; a container
	# has none, so check again before starting it by hand.
	if answers; then
		exit 0
	fi
fi

echo "ci: starting rabbitmq-server"
# The node may be up with its application stopped (rabbitmqctl stop_app): start
# the application then rather than a second node.
# `rabbitmqctl status` fails while the application is stopped; ping answers
# whenever the Erlang node runs.
if timeout 10 rabbitmqctl -q ping >/dev/null 2>&1; then
	rabbitmqctl -q start_app >/dev/null
else
	rabbitmq-server -detached
fi
# A node started with -detached takes a moment before rabbitmqctl can reach
# it (await_startup fails at once on a node that is not there yet), and
# rabbitmq-diagnostics ping answers before the AMQP listener is up:
# await_startup then waits for the listener. 60s in all.
deadline=$((SECONDS + 60))
until rabbitmqctl -q ping >/dev/null 2>&1; do
	if ((SECONDS >= deadline)); then
		echo "ci: rabbitmq-server did not start within 60s" >&2
		exit 1
	fi
	sleep 0.5
done
if ! timeout $((deadline - SECONDS > 1 ? deadline - SECONDS : 1)) rabbitmqctl -q await_startup >/dev/null; then
	echo "ci: rabbitmq-server did not start within 60s" >&2
	exit 1
fi
for _ in $(seq 1 50); do
	answers && exit 0
	sleep 0.2
done
echo "ci: rabbitmq-server started but 127.0.0.1:5672 does not answer" >&2
exit 1
