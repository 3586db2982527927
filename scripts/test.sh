#!/usr/bin/env bash
# Runs every test, after installing what the end-to-end tests need where it is missing:
# python3 (the textbook's programs), kill (signals), prlimit (a server short of descriptors), ip
# (network namespaces), a C
# compiler (a test shim), nginx with its stream module (the load-balancer test), socat and
# xinetd (echo servers for the load generator), prometheus with promtool (the scrape test), and
# openssl and ncat (TLS peers of the TLS tests), nftables (loss in the test bed of hosts); then, in a virtual environment of Python's
# (target/pyenv), aioquic and hdrhistogram from PyPI (an independent QUIC stack, and an
# independent reader of HdrHistogram's logs).
# Installing needs apt-get and root.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v python3 >/dev/null || missing+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
command -v kill >/dev/null || missing+=(procps)
command -v prlimit >/dev/null || missing+=(util-linux)
# ip (network namespaces, for the tests of where a datagram was sent).
command -v ip >/dev/null || missing+=(iproute2)
# nft and tc (in iproute2): loss and a slow link in the test bed of hosts (tests/integration/fleet.rs).
command -v nft >/dev/null || missing+=(nftables)
command -v cc >/dev/null || missing+=(gcc libc6-dev)
{ command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; } || missing+=(nginx)
[ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || missing+=(libnginx-mod-stream)
command -v socat >/dev/null || missing+=(socat)
command -v openssl >/dev/null || missing+=(openssl)
command -v ncat >/dev/null || missing+=(ncat)
{ command -v xinetd >/dev/null || [ -x /usr/sbin/xinetd ]; } || missing+=(xinetd)
# Prometheus itself, and promtool, which the package carries.
{ [ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ]; } || missing+=(prometheus)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}" >&2
  # Packages must not start services here (nginx's default site would listen on port 80,
  # xinetd would start its own, and prometheus would scrape on 9090).
  added_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    added_policy=1
  fi
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  [ -z "$added_policy" ] || rm -f /usr/sbin/policy-rc.d
fi

if ! target/pyenv/bin/python -c 'import aioquic, hdrh' 2>/dev/null; then
  echo "installing aioquic and hdrhistogram into target/pyenv" >&2
  python3 -m venv target/pyenv
  target/pyenv/bin/pip install --quiet --disable-pip-version-check 'aioquic>=1.2,<2' \
    'hdrhistogram>=0.10,<1'
fi

# Every test, those a plain `cargo test` leaves out (marked ignored, for needing root or the
# peers installed above) included; a run that left any out, or skipped any, fails.
mkdir -p target
cargo test --workspace -- --include-ignored 2>&1 | tee target/test.log
if grep -E 'test result: .* [1-9][0-9]* ignored' target/test.log >&2; then
  echo "scripts/test.sh: some tests were left out (above); every test must run here" >&2
  exit 1
fi
