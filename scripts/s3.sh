#!/usr/bin/env bash
# Makes sure an S3-compatible server answers on 127.0.0.1:9000 for the S3 tests: moto in
# server mode, installed from PyPI into a virtualenv (BAZAAR_MOTO_VENV, default
# /var/tmp/bazaar-moto) the first time, started in the background, logging to
# /var/tmp/bazaar-moto.log. Anything already answering on the port is taken as the server.
# Idempotent; needs only python3 with venv and pip.
set -euo pipefail

host=127.0.0.1
port=9000
venv="${BAZAAR_MOTO_VENV:-/var/tmp/bazaar-moto}"
log=/var/tmp/bazaar-moto.log
# Pinned, so that every machine tests against the same server.
moto_version=5.2.5

port_open() { (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; }

if port_open; then
    echo "s3.sh: an S3 server is up on $host:$port"
    exit 0
fi

if ! "$venv/bin/python" -c "import moto.server; assert moto.__version__ == '$moto_version'" 2>/dev/null; then
    echo "s3.sh: installing moto $moto_version into $venv"
    python3 -m venv "$venv" || {
        echo "s3.sh: python3 -m venv failed; on Debian, apt-get install python3-venv" >&2
        exit 1
    }
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$moto_version"
fi

# setsid: the server outlives this script and the terminal or CI step that ran it.
setsid "$venv/bin/moto_server" -H "$host" -p "$port" >>"$log" 2>&1 </dev/null &
server=$!

for _ in $(seq 60); do
    if port_open; then
        echo "s3.sh: moto $moto_version is up on $host:$port (pid $server, log $log)"
        exit 0
    fi
    if ! kill -0 "$server" 2>/dev/null; then
        echo "s3.sh: moto exited before answering; see $log:" >&2
        tail -n 20 "$log" >&2
        exit 1
    fi
    sleep 1
done
echo "s3.sh: moto did not answer on $host:$port within 60 seconds; see $log" >&2
exit 1
