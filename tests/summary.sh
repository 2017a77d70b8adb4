#!/bin/sh
# Prints "N passed, N failed, N skipped" for autotest logs, as the last
# line of a test run.  Before it, for each failed test, the check that
# failed, the first lines of its unexpected output and any sanitizer
# report it left, so that the tail of a CI log says why.
#
# usage: tests/summary.sh TESTSUITE.LOG...
passed=0 failed=0 skipped=0
for log; do
    test -f "$log" || continue
    # Autotest ends each test's record with a line like
    # "12. FILE.at:LINE: 12. TITLE (FILE.at:LINE): RESULT"; the failing
    # check's "./FILE.at:LINE: ..." lines and output diff come before it.
    dir=$(dirname "$log")/$(basename "$log" .log).dir
    out=$(awk -v dir="$dir" '
        /^\.\/[^ ]*\.at:[0-9]+: exit code was/ { why = $0; next }
        /^\.\/[^ ]*\.at:[0-9]+: / { why = $0; n_diff = 0; diff = ""; next }
        /^[-+][^-+]/ && n_diff < 4 { diff = diff "\n      " $0; n_diff++ }
        /^[0-9]+\. .*\([^ ]*:[0-9]+\): / {
            record = $0
            sub(/.*\([^ ]*:[0-9]+\): /, "")
            if ($0 ~ /^(ok|expected failure)/) { p++ }
            else if ($0 ~ /^skipped/) { s++ }
            else if ($0 ~ /^(FAILED|UNEXPECTED PASS)/) {
                f++
                print "  " record
                print "    " why diff
                n = record; sub(/\..*/, "", n)
                cmd = "cat " dir "/" n "/*san.* 2>/dev/null | grep SUMMARY"
                while ((cmd | getline line) > 0) {
                    print "    " line
                }
                close(cmd)
            }
        }
        END { printf "%d %d %d\n", p, f, s }' "$log")
    printf '%s\n' "$out" | sed '$d'
    set -- $(printf '%s\n' "$out" | tail -n 1)
    passed=$((passed + $1)) failed=$((failed + $2)) skipped=$((skipped + $3))
done
echo "$passed passed, $failed failed, $skipped skipped"
