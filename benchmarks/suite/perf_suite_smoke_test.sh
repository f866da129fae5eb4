#!/usr/bin/env bash
# Keeps the benchmark suite runnable: perf_suite against the standalone server
# with tiny runs must print every row, each with a positive rate and no failed
# calls. Measures nothing worth reading.
set -euo pipefail
out="${TEST_TMPDIR}/perf_suite.out"
benchmarks/suite/perf_suite --duration=0.5s --windows=1,8 --in_flight=8 --catchup_messages=640 \
  --deployments=standalone --batch_in_flight=2 --pop_redelivery_in_flight=64 --pop_invisible=1s \
  > "${out}"
expected=(echo.unary.w1 echo.unary.w8 echo.batch echo.stream standalone.send.w1 standalone.send.w8
  standalone.stream standalone.producer
  standalone.batch standalone.rss_anon standalone.fill standalone.catchup standalone.popcatchup
  standalone.popredelivery standalone.e2e
  standalone.syncflush.w1 standalone.syncflush.w8 standalone.syncflush.producer
  standalone.syncflush.batch)
status=0
for id in "${expected[@]}"; do
  row=$(awk -F'\t' -v id="${id}" '$1 == "ROW" && $2 == id' "${out}")
  if [ -z "${row}" ]; then
    echo "missing row ${id}"; status=1; continue
  fi
  awk -F'\t' '{ if ($3 <= 0 || $7 != 0) { print "bad row: " $0; exit 1 } }' <<<"${row}" || status=1
done
[ "${status}" -eq 0 ] || cat "${out}"
exit "${status}"
