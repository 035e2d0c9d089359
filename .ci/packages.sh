# Helpers of .ci/run, sourced by it (and by tests/test_ci.py, as a non-root user with sudo).

# Root's commands: run directly as root, else through sudo (-n: fail rather than ask for a password).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}
apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
    apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# The bin folder of the newest installed PostgreSQL of major 14 to 17 (Debian's and Ubuntu's layout), or nothing.
find_postgres() {
  local major
  for major in 17 16 15 14; do
    if [ -x "/usr/lib/postgresql/$major/bin/initdb" ]; then echo "/usr/lib/postgresql/$major/bin"; return; fi
  done
}
