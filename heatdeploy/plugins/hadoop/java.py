"""Finding the Java Hadoop runs on, on each instance, and checking that the Hadoop version supports it.

Hadoop's scripts stop when JAVA_HOME is unset, and an SSH session's PATH
is not a login shell's: a JDK under /opt whose PATH is set in
/etc/profile.d is invisible to it. So the instance is asked, in this order:
the image's own hadoop-env.sh (kept beside ours as hadoop-env.sh.dist), a
login shell's JAVA_HOME, a login shell's ``java``, /etc/alternatives/java,
then the JDK folders under /usr/lib/jvm and /opt. An explicit choice (the
``java_home`` config, or the JAVA_HOME of the image's hadoop-env.sh) is
kept, and refused if the Hadoop version does not support it; otherwise the
first supported Java found is taken (a login shell's JAVA_HOME first).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from heatdeploy import HeatdeployError, Remote

# Hadoop's own compatibility table: runtime Java 8 and 11 for 3.3 and 3.4.
SUPPORTED = {"3.3": (8, 11), "3.4": (8, 11)}
SEARCHED = ("/etc/alternatives/java", "/usr/lib/jvm", "/opt")

# Arguments: the image's hadoop-env.sh, where to keep a copy of it, whether to ask a login shell, the
# java_home config (or ""), then the places to search. Prints "HOME<TAB>HOW<TAB>FIRST LINE OF java -version"
# for every Java found, in order of preference; HOW is "configured", "explicit" (the image's own choice) or
# "found". Runs under sh: nothing is installed first.
FIND_SCRIPT = r"""env=$1 dist=$2 login=$3 configured=$4
shift 4
# The image's hadoop-env.sh, kept once before heatdeploy's replaces it.
if [ -f "$env" ] && ! grep -q '^# Written by heatdeploy' "$env" && [ ! -f "$dist" ]; then cp -p "$env" "$dist"; fi
seen=" "
report() {
  home=${1%/}
  case "$home" in */jre) [ -x "${home%/jre}/bin/java" ] && home=${home%/jre} ;; esac
  [ -x "$home/bin/java" ] || return 0
  case "$seen" in *" $home "*) return 0 ;; esac
  seen="$seen$home "
  printf '%s\t%s\t%s\n' "$home" "$2" "$("$home/bin/java" -version 2>&1 | head -n 1)"
}
home_of() { dirname "$(dirname "$(readlink -f "$1")")"; }
[ -n "$configured" ] && report "$configured" configured
# Hadoop's scripts are bash: so is the image's hadoop-env.sh, read by bash where there is one.
if [ -f "$dist" ]; then
  shell=sh; command -v bash > /dev/null && shell=bash
  report "$(JAVA_HOME= "$shell" -c '. "$1" > /dev/null 2>&1; printf %s "${JAVA_HOME:-}"' env "$dist")" explicit
fi
if [ "$login" = 1 ] && command -v bash > /dev/null; then
  report "$(bash -lc 'printf %s "${JAVA_HOME:-}"' 2> /dev/null < /dev/null)" found
  java=$(bash -lc 'command -v java' 2> /dev/null < /dev/null)
  [ -n "$java" ] && report "$(home_of "$java")" found
fi
for place in "$@"; do
  if [ -f "$place" ]; then report "$(home_of "$place")" found; continue; fi
  for home in "$place"/*; do [ -d "$home" ] && report "$home" found; done
done
exit 0
"""


class JavaProblem(HeatdeployError):
    """No Java the Hadoop version supports on an instance."""


@dataclass(frozen=True)
class Java:
    home: str
    major: int
    explicit: bool
    """The image's own choice (or the ``java_home`` config), not one heatdeploy found."""


def major_version(line: str) -> int | None:
    """8 from ``java version "1.8.0_392"``, 17 from ``openjdk version "17.0.9" 2023-10-17``."""
    found = re.search(r'version "(\d+)(?:\.(\d+))?', line)
    if found is None:
        return None
    first = int(found.group(1))
    return int(found.group(2) or 0) if first == 1 else first


def parse_found(output: str) -> list[tuple[Java, str]]:
    """Each Java the script reported, with how it was found."""
    javas = []
    for line in output.splitlines():
        home, how, version = (line.split("\t") + ["", ""])[:3]
        major = major_version(version)
        if home and major is not None:
            javas.append((Java(home, major, how in ("configured", "explicit")), how))
    return javas


def choose(javas: list[Java], hadoop_version: str, instance: str) -> Java:
    """The Java to run Hadoop on, or :class:`JavaProblem` naming what was found and what would do."""
    supported = SUPPORTED.get(hadoop_version, (8, 11))
    wanted = f"Hadoop {hadoop_version} runs on Java {' or '.join(map(str, supported))}"
    explicit = next((j for j in javas if j.explicit), None)
    if explicit is not None:
        if explicit.major not in supported:
            raise JavaProblem(f"instance {instance}: JAVA_HOME {explicit.home} is Java {explicit.major}; {wanted} "
                              "(set the java_home config to another JDK on the image)")
        return explicit
    fitting = [j for j in javas if j.major in supported]
    if fitting:
        return fitting[0]
    seen = ", ".join(f"Java {j.major} at {j.home}" for j in javas) or "no Java at all"
    raise JavaProblem(f"instance {instance}: found {seen}; {wanted} (install one, or set the java_home config)")


def find_java(remote: Remote, env: str, hadoop_version: str, java_home: str = "",
              places: tuple[str, ...] = SEARCHED, login: bool = True) -> Java:
    """Keep the image's hadoop-env.sh as ``env``.dist, then choose the instance's Java (see the module)."""
    result = remote.run(["sh", "-c", FIND_SCRIPT, "find-java", env, f"{env}.dist", "1" if login else "0",
                         java_home, *places])
    found = parse_found(result.stdout)
    if java_home and not any(how == "configured" for _, how in found):
        raise JavaProblem(f"instance {remote.instance.name}: the java_home config {java_home} holds no bin/java")
    return choose([java for java, _ in found], hadoop_version, remote.instance.name)
