# sawmill_library(NAME SRCS a.cc ... DEPS x y ...): one static library per folder.
function(sawmill_library NAME)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_library(${NAME} STATIC ${ARG_SRCS})
  target_link_libraries(${NAME} PUBLIC ${ARG_DEPS})
endfunction()

# sawmill_binary(NAME SRCS ... DEPS ...): an executable placed at the top of the build dir
# (OUTPUT_DIR overrides, e.g. jobs/).
function(sawmill_binary NAME)
  cmake_parse_arguments(ARG "" "OUTPUT_DIR" "SRCS;DEPS" ${ARGN})
  add_executable(${NAME} ${ARG_SRCS})
  target_link_libraries(${NAME} PRIVATE ${ARG_DEPS})
  if(ARG_OUTPUT_DIR)
    set_target_properties(${NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIR})
  endif()
endfunction()

# sawmill_test(NAME SRCS ... DEPS ... [TEST_PREFIX P]): a GoogleTest binary registered with ctest,
# one test per case, named P + Suite.Case (a prefix lets `ctest -R` pick a folder's tests).
function(sawmill_test NAME)
  cmake_parse_arguments(ARG "" "TEST_PREFIX" "SRCS;DEPS" ${ARGN})
  add_executable(${NAME} ${ARG_SRCS})
  target_link_libraries(${NAME} PRIVATE ${ARG_DEPS} GTest::gtest_main GTest::gmock)
  gtest_discover_tests(${NAME} TEST_PREFIX "${ARG_TEST_PREFIX}" DISCOVERY_TIMEOUT 60 PROPERTIES LABELS unit)
endfunction()
