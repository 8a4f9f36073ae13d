# The runner endpoint and the engine with the real npm runner.
add_test(NAME interop_lifecycle COMMAND node --test --test-reporter=spec tests/interop/lifecycle.test.mjs
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(interop_lifecycle PROPERTIES ENVIRONMENT "SETT_BIN=$<TARGET_FILE:sett>" TIMEOUT 120)
