#!/usr/bin/env bash
# Makes sure the servers the tests talk to are up on loopback: PostgreSQL
# (127.0.0.1:5432) and RabbitMQ (127.0.0.1:5672). They come with the machine; this starts
# one that has stopped. Prints what it finds; fails only when a server cannot be started.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for_port() {
    local port=$1 seconds=$2
    for _ in $(seq "$seconds"); do
        port_open "$port" && return 0
        sleep 1
    done
    return 1
}

if port_open 5432; then
    echo "services.sh: PostgreSQL is up on 127.0.0.1:5432"
elif command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "services.sh: starting PostgreSQL"
    for version in $(ls /etc/postgresql); do
        pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
    wait_for_port 5432 30 || { echo "services.sh: PostgreSQL did not start" >&2; exit 1; }
else
    echo "services.sh: PostgreSQL is not installed; its tests will skip (or fail under CI)" >&2
fi

if port_open 5672; then
    echo "services.sh: RabbitMQ is up on 127.0.0.1:5672"
elif command -v rabbitmq-server >/dev/null 2>&1; then
    echo "services.sh: starting RabbitMQ"
    rabbitmq-server -detached || true
    wait_for_port 5672 60 || { echo "services.sh: RabbitMQ did not start" >&2; exit 1; }
else
    echo "services.sh: RabbitMQ is not installed; its tests will skip (or fail under CI)" >&2
fi

"$(dirname "$0")/s3.sh"
