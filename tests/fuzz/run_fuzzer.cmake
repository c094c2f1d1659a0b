# cmake -DFUZZER=... -DSEEDS=... -DWORKDIR=... -DSECONDS=... [-DDICT=...] -P run_fuzzer.cmake
# Copies the seed corpus to WORKDIR/corpus (fresh each run), fuzzes for SECONDS, and fails the
# test when the fuzzer exits non-zero (crash, sanitizer report, abort in a property check).
file(REMOVE_RECURSE "${WORKDIR}")
file(MAKE_DIRECTORY "${WORKDIR}/corpus" "${WORKDIR}/artifacts")
file(GLOB seeds "${SEEDS}/*")
file(COPY ${seeds} DESTINATION "${WORKDIR}/corpus")
set(args -max_total_time=${SECONDS} -print_final_stats=1 -timeout=10
         "-artifact_prefix=${WORKDIR}/artifacts/")
if(DICT)
  list(APPEND args "-dict=${DICT}")
endif()
execute_process(COMMAND "${FUZZER}" ${args} "${WORKDIR}/corpus" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "fuzzer failed (exit ${rc}); reproducer in ${WORKDIR}/artifacts")
endif()
