# Sourced by scripts/test.sh: makes sure a Redis answers on 127.0.0.1:6379
# and tells the tests where it is. redis-server is installed if missing. A
# Redis already running there (go-svc machines start one) is used as it is;
# otherwise one is started in a temporary folder, without persistence, and
# its pid is added to test.sh's pids so that its cleanup stops it.
#
# The tests use database 9 and keep their keys under random prefixes that
# they delete, so they never touch anything else on a shared server.

redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

# Installed even when a Redis answers: the store's outage
# test (store/redis, TestRecoversAfterOutage) starts and stops one of its
# own, and fails under CI=true without it.
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  echo "== installing redis-server"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi
if ! redis_up; then
  redis_dir=${SEIPBOT_TEST_RUN:-$(mktemp -d)}/redis
  mkdir -p "$redis_dir"
  echo "== starting redis-server in $redis_dir"
  redis-server --bind 127.0.0.1 --port 6379 --save '' --appendonly no \
    --daemonize yes --dir "$redis_dir" --logfile "$redis_dir/redis.log" \
    --pidfile "$redis_dir/redis.pid"
  for _ in $(seq 50); do redis_up && break; sleep 0.1; done
  if ! redis_up; then
    echo "redis-server did not answer on 127.0.0.1:6379; its log:" >&2
    cat "$redis_dir/redis.log" >&2 || true
    return 1 2>/dev/null || exit 1
  fi
  # --daemonize forks, so the pid comes from the pidfile, not $!.
  if declare -p pids >/dev/null 2>&1; then
    pids+=("$(cat "$redis_dir/redis.pid")")
  fi
fi
export SEIPBOT_TEST_REDIS_URL=redis://127.0.0.1:6379/9
