# The world's servers (origin, canaries, DNS, fake model API) on Node, with
# iproute2 so a canary sharing the gate's network namespace can claim the
# metadata address 169.254.169.254 there.
FROM bottle-test/node:24
RUN apt-get update && apt-get install -y --no-install-recommends iproute2 && rm -rf /var/lib/apt/lists/*
COPY *.mjs /world/
COPY certs /world/certs
