#!/usr/bin/env bash
# What `make demo` and `make test` need from the system, checked before anything else runs.
#
#   scripts/prereqs.sh [--for NAME] [--check] PIECE...     PIECE: python npm chromium java maven
#
#   python    $PYTHON (default python3) 3.11+ able to create a venv (Debian: python3-venv)
#   npm       npm, to fetch the map's JavaScript libraries from the npm registry
#   chromium  $CLOSEWATCH_CHROMIUM (default /usr/bin/chromium), for the browser tests
#   java      Java 17+, for the local Kafka broker
#   maven     mvn, to fetch the broker's jars from Maven Central
#
# Nothing missing: prints nothing, exit 0. Something missing: as root, or with password-less
# sudo, installs it with apt-get (one `apt-get update`, then `apt-get install
# --no-install-recommends`) and checks again; otherwise prints ONE line naming what is missing
# and the command that installs it, and exits 1. --check: never install, only that line.
set -euo pipefail

NAME="closewatch"
CHECK_ONLY=0
while [[ ${1:-} == --* ]]; do
  case $1 in
    --for) NAME=$2; shift 2 ;;
    --check) CHECK_ONLY=1; shift ;;
    *) echo "scripts/prereqs.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
PYTHON=${PYTHON:-python3}
CHROMIUM=${CLOSEWATCH_CHROMIUM:-/usr/bin/chromium}
export DEBIAN_FRONTEND=noninteractive

# Each check prints nothing and returns 0 when the piece is there, else prints why not and
# returns 1 (apt-get can install it) or 2 (it cannot).
check_python() {
  local exe version
  exe=$(command -v "$PYTHON" 2>/dev/null) || { echo "Python 3.11+ ($PYTHON not found)"; return 1; }
  version=$("$exe" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || {
    echo "Python 3.11+ ($exe does not run)"
    return 2
  }
  if ! "$exe" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "Python 3.11+ ($exe is $version)"
    return 2  # not something apt-get can fix on every release
  fi
  # Debian's own Python creates a venv only with pythonX.Y-venv (ensurepip's wheels).
  if [[ $(readlink -f "$exe") == /usr/bin/* ]] && command -v dpkg-query >/dev/null \
     && [[ $(dpkg-query -W -f='${Status}' "python$version-venv" 2>/dev/null) != "install ok installed" ]]; then
    echo "python$version-venv (to create .venv)"
    return 1
  fi
}

check_npm() {
  command -v npm >/dev/null || { echo "npm (for the map's JavaScript libraries)"; return 1; }
}

check_chromium() {
  [[ -x $CHROMIUM ]] || { echo "Chromium ($CHROMIUM not found; CLOSEWATCH_CHROMIUM may point elsewhere)"; return 1; }
}

java_major() {
  # `openjdk version "17.0.15" 2025-04-15` -> 17; `java version "1.8.0_412"` -> 8
  java -version 2>&1 | sed -n 's/.*version "\([0-9][0-9.]*\).*/\1/p' | head -n 1 \
    | awk -F. '{ print ($1 == 1 ? $2 : $1) }'
}

check_java() {
  local major
  command -v java >/dev/null || { echo "Java 17+ (java not found, for the Kafka broker)"; return 1; }
  major=$(java_major)
  if [[ -z $major || $major -lt 17 ]]; then
    echo "Java 17+ (java is version ${major:-unknown}, for the Kafka broker)"
    return 1
  fi
}

check_maven() {
  command -v mvn >/dev/null || { echo "Maven (mvn not found, for the Kafka jars)"; return 1; }
}

# The Debian packages of a missing piece.
packages_for() {
  case $1 in
    python)
      if command -v "$PYTHON" >/dev/null; then  # venv for this very Python, e.g. python3.11-venv
        "$PYTHON" -c 'import sys; print("python%d.%d-venv" % sys.version_info[:2])'
      else
        echo "python3 python3-venv"
      fi
      ;;
    npm) echo "npm" ;;
    chromium) echo "chromium" ;;
    java)
      # Debian 12 and Ubuntu LTS ship OpenJDK 17; later Debian releases only a newer default.
      if apt-cache show openjdk-17-jre-headless >/dev/null 2>&1 \
         || ! apt-cache show default-jre-headless >/dev/null 2>&1; then
        echo "openjdk-17-jre-headless"
      else
        echo "default-jre-headless"
      fi
      ;;
    maven) echo "maven" ;;
  esac
}

for piece in "$@"; do
  case $piece in
    python | npm | chromium | java | maven) ;;
    *) echo "scripts/prereqs.sh: unknown piece '$piece' (python npm chromium java maven)" >&2; exit 2 ;;
  esac
done

missing_pieces=()
reasons=()
unfixable=()
for piece in "$@"; do
  rc=0
  reason=$("check_$piece") || rc=$?
  if [[ $rc -eq 2 ]]; then
    unfixable+=("$reason")
  elif [[ $rc -ne 0 ]]; then
    missing_pieces+=("$piece")
    reasons+=("$reason")
  fi
done
joined() { local out="" x; for x in "$@"; do out+="${out:+, }$x"; done; printf '%s\n' "$out"; }
all_packages() { local out="" p; for p in "${missing_pieces[@]}"; do out+="${out:+ }$(packages_for "$p")"; done; printf '%s\n' "$out"; }

if [[ ${#unfixable[@]} -gt 0 ]]; then
  echo "$NAME: needs $(joined "${unfixable[@]}"): install Python 3.11 or newer and run make with PYTHON=python3.11 (or newer)" >&2
  exit 1
fi
[[ ${#missing_pieces[@]} -eq 0 ]] && exit 0
missing_text=$(joined "${reasons[@]}")

sudo_prefix=""
if [[ $CHECK_ONLY -eq 1 ]]; then
  sudo_prefix="none"
elif [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo_prefix="sudo DEBIAN_FRONTEND=noninteractive"
  else
    sudo_prefix="none"
  fi
fi

if ! command -v apt-get >/dev/null; then
  echo "$NAME: missing $missing_text: install them with your system's package manager (on Debian or Ubuntu: sudo apt-get install --no-install-recommends $(all_packages))" >&2
  exit 1
fi

packages=$(all_packages)
if [[ $sudo_prefix == none ]]; then
  s=$([[ $(id -u) -eq 0 ]] || echo "sudo ")
  echo "$NAME: missing $missing_text: install with: ${s}apt-get update && ${s}apt-get install -y --no-install-recommends $packages" >&2
  exit 1
fi

echo "$NAME: missing $missing_text: installing with apt-get: $packages" >&2
$sudo_prefix apt-get update -qq
# Now that the package lists are fresh, the Java package can be chosen for this release.
packages=$(all_packages)
# shellcheck disable=SC2086  # word splitting of the package list is intended
$sudo_prefix apt-get install -y -qq --no-install-recommends $packages >/dev/null
hash -r
still=()
for piece in "${missing_pieces[@]}"; do
  if ! reason=$("check_$piece"); then
    still+=("$reason")
  fi
done
if [[ ${#still[@]} -gt 0 ]]; then
  echo "$NAME: still missing after apt-get install $packages: $(joined "${still[@]}")" >&2
  exit 1
fi
