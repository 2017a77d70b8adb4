#!/bin/sh
# Prints "N passed, N failed, N skipped" for autotest logs, as the last
# line of a test run.
#
# usage: tests/summary.sh TESTSUITE.LOG...
passed=0 failed=0 skipped=0
for log; do
    test -f "$log" || continue
    # Autotest ends each test's record with a line like
    # "12. TITLE (FILE.at:LINE): RESULT".
    counts=$(awk '
        /^[0-9]+\. .*\([^ ]*:[0-9]+\): / {
            sub(/.*\([^ ]*:[0-9]+\): /, "")
            if ($0 ~ /^(ok|expected failure)/) { p++ }
            else if ($0 ~ /^(FAILED|UNEXPECTED PASS)/) { f++ }
            else if ($0 ~ /^skipped/) { s++ }
        }
        END { printf "%d %d %d\n", p, f, s }' "$log")
    set -- $counts
    passed=$((passed + $1)) failed=$((failed + $2)) skipped=$((skipped + $3))
done
echo "$passed passed, $failed failed, $skipped skipped"
