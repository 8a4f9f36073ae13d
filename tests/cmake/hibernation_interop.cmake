# Hibernation end to end: the real npm runner, sett on the Redis store, and a redis-server the
# test starts itself (one scenario stops and restarts it).
add_test(NAME interop_hibernation COMMAND node --test --test-reporter=spec tests/interop/hibernation.test.mjs
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(interop_hibernation PROPERTIES ENVIRONMENT "SETT_BIN=$<TARGET_FILE:sett>" TIMEOUT 180)
