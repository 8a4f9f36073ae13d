# Hostile and careless clients against the real binary and the real npm runner: connection caps
# with a runner admitted, a client that stops reading, tokens kept out of logs and metrics.
add_test(NAME interop_hostile COMMAND node --test --test-reporter=spec tests/interop/hostile.test.mjs
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(interop_hostile PROPERTIES ENVIRONMENT "SETT_BIN=$<TARGET_FILE:sett>" TIMEOUT 120)
# Nothing leaks (tests/interop/leak.test.mjs), on the plain build: ASan keeps freed memory.
if(NOT SETT_SAN)
  add_test(NAME interop_leak COMMAND node --test --test-reporter=spec tests/interop/leak.test.mjs
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(interop_leak PROPERTIES ENVIRONMENT "SETT_BIN=$<TARGET_FILE:sett>" TIMEOUT 240)
endif()
