# Policy hooks in the running gateway, with the real npm runner.
add_test(NAME interop_policy COMMAND node --test --test-reporter=spec tests/interop/policy.test.mjs
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(interop_policy PROPERTIES ENVIRONMENT "SETT_BIN=$<TARGET_FILE:sett>" TIMEOUT 120)
