# The gateway with the real npm runner (tests/interop/node_modules, installed by make test).
add_test(NAME interop_gateway COMMAND node --test --test-reporter=spec tests/interop/gateway.test.mjs
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(interop_gateway PROPERTIES ENVIRONMENT "SETT_BIN=$<TARGET_FILE:sett>" TIMEOUT 240)
