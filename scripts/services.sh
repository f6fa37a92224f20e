# Sourced by scripts/test.sh (bash): makes sure the servers the integration
# tests need are installed, starts the ones the tests do not start
# themselves, records their process ids in the pids array, and exports
# their addresses.

# shellcheck source=scripts/pkg.sh
. scripts/pkg.sh

# ngIRCd: the IRC adapter's tests start and stop their own servers (on free
# loopback ports, with adapter/irc/irctest/ngircd.conf), since they
# restart the server mid-conversation and need one with flood throttling
# on; here it is only installed and named.
ensure_pkg ngircd ngircd
SEIPBOT_TEST_NGIRCD=$(command -v ngircd || echo /usr/sbin/ngircd)
export SEIPBOT_TEST_NGIRCD

# Prosody: the XMPP adapter's tests start their own servers too, on free
# loopback ports; scripts/prosody.sh installs it and exports its path.
# shellcheck source=scripts/prosody.sh
. scripts/prosody.sh

# Dendrite (built from the module proxy once per machine, cached outside
# the clone): the Matrix adapter's tests start their own homeservers.
SEIPBOT_TEST_DENDRITE=$(scripts/dendrite.sh)
export SEIPBOT_TEST_DENDRITE

# Redis: the Redis store, bus, queue and replica tests use the one on
# 127.0.0.1:6379, started here when none answers.
# shellcheck source=scripts/redis.sh
. scripts/redis.sh

# nmap: the scan/nmap tests run it against 127.0.0.1.
ensure_pkg nmap nmap

# helm (built from the module proxy once per machine, cached outside the
# clone) and Debian's docker-compose: the deploy tests lint and render the
# chart and validate the compose file with them.
SEIPBOT_TEST_HELM=$(scripts/helm.sh)
SEIPBOT_TEST_COMPOSE=$(scripts/compose.sh)
export SEIPBOT_TEST_HELM SEIPBOT_TEST_COMPOSE

# Mattermost (built from the module proxy once per machine, cached outside
# the clone) and PostgreSQL with the role mmuser: the Mattermost adapter's
# tests start their own server on a free port with a fresh database.
# shellcheck source=scripts/mattermost.sh
. scripts/mattermost.sh
