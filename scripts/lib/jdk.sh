# Sourced by .ci/run and ./kvbm: kvbm_find_jdk25 sets and exports JAVA_HOME to a JDK 25 or newer (JAVA_HOME if it
# is one, else the first under /usr/lib/jvm), puts it first on PATH, or prints what to install and returns 1.

kvbm_java_major() {
  "$1/bin/java" -XshowSettings:properties -version 2>&1 \
    | awk -F'= ' '/java.specification.version/ { split($2, v, "."); print v[1]; exit }'
}

kvbm_is_jdk25() {
  [ -n "${1:-}" ] && [ -x "$1/bin/java" ] && [ -x "$1/bin/javac" ] && [ "$(kvbm_java_major "$1")" -ge 25 ] 2>/dev/null
}

kvbm_find_jdk25() {
  if ! kvbm_is_jdk25 "${JAVA_HOME:-}"; then
    JAVA_HOME=""
    for candidate in /usr/lib/jvm/*25* /usr/lib/jvm/*; do
      if kvbm_is_jdk25 "$candidate"; then JAVA_HOME="$candidate"; break; fi
    done
  fi
  if [ -z "$JAVA_HOME" ]; then
    echo "No JDK 25 found (JAVA_HOME is not one, none under /usr/lib/jvm)." >&2
    echo "Install one, e.g. Eclipse Temurin 25 from adoptium.net, and set JAVA_HOME." >&2
    return 1
  fi
  export JAVA_HOME
  export PATH="$JAVA_HOME/bin:$PATH"
}
