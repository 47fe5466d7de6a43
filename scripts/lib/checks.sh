# shellcheck shell=bash disable=SC2154 # checker is set by the script that sources this file
# User-visible checks for the shell test scripts: one line each, "<checker>: ok   what" or
# "<checker>: FAIL what: ...", counting failures in $failures. Set checker=NAME before sourcing.
failures=0

# check WHAT EXPECTED ACTUAL: ACTUAL must contain EXPECTED.
check() {
  local what=$1 expected=$2 actual=$3
  if [[ $actual == *"$expected"* ]]; then
    echo "$checker: ok   $what"
  else
    echo "$checker: FAIL $what: expected '$expected', got '$actual'"
    failures=$((failures + 1))
  fi
}

# same WHAT EXPECTED ACTUAL: ACTUAL must be exactly EXPECTED (for counts and single values,
# where "1" must not pass for "11").
same() {
  local what=$1 expected=$2 actual=$3
  if [[ $actual == "$expected" ]]; then
    echo "$checker: ok   $what"
  else
    echo "$checker: FAIL $what: expected exactly '$expected', got '$actual'"
    failures=$((failures + 1))
  fi
}

# refute WHAT UNEXPECTED ACTUAL: ACTUAL must not contain UNEXPECTED.
refute() {
  local what=$1 unexpected=$2 actual=$3
  if [[ $actual != *"$unexpected"* ]]; then
    echo "$checker: ok   $what"
  else
    echo "$checker: FAIL $what: '$unexpected' in '$actual'"
    failures=$((failures + 1))
  fi
}
