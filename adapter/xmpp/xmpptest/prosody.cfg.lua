-- Prosody 0.12 for the XMPP tests (xmpptest): loopback only, on the ports
-- the test chose. The test sets PROSODY_BASE (a folder holding data/, logs/
-- and certs/ with localhost.crt and localhost.key), PROSODY_PORT (STARTTLS
-- and plaintext) and PROSODY_TLS_PORT (direct TLS).
local base = assert(os.getenv("PROSODY_BASE"), "set PROSODY_BASE")
network_settings = { nagle = false } -- without it, small replies wait ~40 ms
run_as_root = true                   -- CI runs as root; otherwise prosody hangs
data_path = base .. "/data"
pidfile = base .. "/prosody.pid"

interfaces = { "127.0.0.1" }
c2s_ports = { tonumber(os.getenv("PROSODY_PORT")) }
c2s_direct_tls_ports = { tonumber(os.getenv("PROSODY_TLS_PORT")) }
s2s_ports = { }
component_ports = { }
http_ports = { }
https_ports = { }

modules_enabled = {
  "disco"; "roster"; "saslauth"; "tls"; "ping"; "posix";
}
modules_disabled = { "s2s"; "offline" }

-- Plaintext is allowed so the adapter's plaintext mode (SCRAM only) can be
-- tested; PLAIN stays off without TLS, as on a real server.
c2s_require_encryption = false
allow_unencrypted_plain_auth = false
allow_registration = false
authentication = "internal_hashed"
storage = "internal"
limits = { }                         -- no c2s rate limiting in tests

log = {
  info = base .. "/logs/prosody.log";
  error = base .. "/logs/prosody.err";
}

certificates = base .. "/certs"

VirtualHost "localhost"
  ssl = { key = base .. "/certs/localhost.key"; certificate = base .. "/certs/localhost.crt"; }

Component "conference.localhost" "muc"
  restrict_room_creation = false
  muc_room_default_persistent = false
  muc_room_locking = false            -- rooms usable on first join
  muc_room_default_public_jids = true -- non-anonymous: the bot sees real JIDs
