# The tests of `sawmill` subcommands written in Python (included by tests/CMakeLists.txt when the
# jobs are built: they run job binaries too).

# Log archives (tests/cli/logs_test.py): `sawmill logs` on a local store and a 1-worker cluster.
add_test(NAME logs_archive COMMAND python3 ${CMAKE_CURRENT_LIST_DIR}/logs_test.py ${CMAKE_BINARY_DIR} --cluster)
set_tests_properties(logs_archive PROPERTIES LABELS integration TIMEOUT 300)

# Raw log files in (tests/cli/logs_append_test.py): `sawmill logs append` through the ingestion
# ledger: the same file twice, growth, rotation with compression, racing appenders, bad lines.
add_test(NAME logs_append COMMAND python3 ${CMAKE_CURRENT_LIST_DIR}/logs_append_test.py ${CMAKE_BINARY_DIR} --cluster)
set_tests_properties(logs_append PROPERTIES LABELS integration TIMEOUT 300)

# Versioned datasets (tests/cli/datasets_test.py): dataset:NAME outputs and inputs, promote and
# rollback under a concurrent reader, refusals; a local store and a 1-worker cluster.
add_test(NAME datasets_versions COMMAND python3 ${CMAKE_CURRENT_LIST_DIR}/datasets_test.py ${CMAKE_BINARY_DIR} --cluster)
set_tests_properties(datasets_versions PROPERTIES LABELS integration TIMEOUT 300)

# Pipelines (tests/cli/pipeline_test.py): order, parallel steps, up-to-date skips, checks, refusals.
add_test(NAME pipelines COMMAND python3 ${CMAKE_CURRENT_LIST_DIR}/pipeline_test.py ${CMAKE_BINARY_DIR})
set_tests_properties(pipelines PROPERTIES LABELS integration TIMEOUT 300)

# One command line (tests/cli/help_test.py): every command and verb of the command table answers
# --help on stdout with exit 0 (cluster, dfs, dataset and logs verbs with their own usage alone),
# every verb refuses an unknown flag naming it, unknown commands are named with the nearest
# suggested, and the bash completion script completes commands and verbs.
add_test(NAME cli_help COMMAND python3 ${CMAKE_CURRENT_LIST_DIR}/help_test.py ${CMAKE_BINARY_DIR})
set_tests_properties(cli_help PROPERTIES LABELS unit TIMEOUT 120)

# The namenode benchmark's smoke run (cli/bench_cmd.cc, docs/scale.md): 2,000 files through every
# operation, then a checkpoint and a restart whose namespace must dump the same (exit 1 otherwise).
add_test(NAME bench_namenode_smoke COMMAND sh -c "d=$(mktemp -d) && ${CMAKE_BINARY_DIR}/sawmill bench namenode --dir $d/nn --files 2000 --dirs 20 && rmdir $d")
set_tests_properties(bench_namenode_smoke PROPERTIES LABELS bench TIMEOUT 120)
# The coordinator at small scale: every job must succeed and memory must not grow over the jobs.
add_test(NAME bench_coordinator_smoke COMMAND ${CMAKE_BINARY_DIR}/sawmill bench coordinator --workers 50 --tasks 2000 --jobs 3 --max-growth-mb 64)
set_tests_properties(bench_coordinator_smoke PROPERTIES LABELS bench TIMEOUT 120)
