# Configuration reload in the running gateway, with the real npm runner.
add_test(NAME interop_reload_config COMMAND node --test --test-reporter=spec tests/interop/reload-config.test.mjs
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(interop_reload_config PROPERTIES ENVIRONMENT "SETT_BIN=$<TARGET_FILE:sett>" TIMEOUT 120)

# The reload soak: 100 policy reloads (10 broken) with 200 tunnelled WebSockets open, half of
# them hibernating, checked for dropped sockets, lost messages, routing and resident memory.
add_test(NAME interop_reload_soak COMMAND node --test --test-reporter=spec tests/interop/reload-soak.test.mjs
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(interop_reload_soak PROPERTIES ENVIRONMENT "SETT_BIN=$<TARGET_FILE:sett>" TIMEOUT 180)
