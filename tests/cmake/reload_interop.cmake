# Configuration reload in the running gateway, with the real npm runner.
add_test(NAME interop_reload_config COMMAND node --test --test-reporter=spec tests/interop/reload-config.test.mjs
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(interop_reload_config PROPERTIES ENVIRONMENT "SETT_BIN=$<TARGET_FILE:sett>" TIMEOUT 120)

# The reload soak: 100 policy reloads (10 broken) with 200 tunnelled WebSockets open, half of
# them hibernating, checked for dropped sockets, lost messages, routing and resident memory.
add_test(NAME interop_reload_soak COMMAND node --test --test-reporter=spec tests/interop/reload-soak.test.mjs
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
# Under AddressSanitizer freed memory sits in quarantine, so resident memory says nothing about
# growth there; the plain build of the same make test checks the 1 MiB bound.
if(SETT_SAN)
  set(SETT_SOAK_ENV "SETT_BIN=$<TARGET_FILE:sett>;SETT_SANITIZED=1")
else()
  set(SETT_SOAK_ENV "SETT_BIN=$<TARGET_FILE:sett>")
endif()
set_tests_properties(interop_reload_soak PROPERTIES ENVIRONMENT "${SETT_SOAK_ENV}" TIMEOUT 180)
