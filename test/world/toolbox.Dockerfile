# The attacker's toolbox: the fake claude (whose `run` steps are the attacks)
# plus the tools an agent would reach for to get past a proxy.
FROM bottle-test/fake-agent:latest
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl openssl iproute2 iputils-ping dnsutils netcat-openbsd \
 && rm -rf /var/lib/apt/lists/*
COPY probe.mjs /usr/local/bin/probe
RUN chmod 755 /usr/local/bin/probe
