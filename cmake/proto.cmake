# The runner-protocol codec: tools/barec.lua generates it from the schema at build time into
# ${SETT_GEN_DIR}/proto (never into the source tree), and settcore compiles it with the rest.
set(SETT_PROTO_SCHEMA ${CMAKE_SOURCE_DIR}/schemas/runner-protocol/v7.bare)
file(MAKE_DIRECTORY ${SETT_GEN_DIR}/proto)
add_custom_command(
  OUTPUT ${SETT_GEN_DIR}/proto/rp_v7.c ${SETT_GEN_DIR}/proto/rp_v7.h
  COMMAND ${LUAJIT_EXE} ${CMAKE_SOURCE_DIR}/tools/barec.lua --prefix rp --version 7
          --versioned ToRunner,ToGateway
          --peek ToServer,ToClient,ToRunner,ToGateway,ToServerTunnelMessage,ToClientTunnelMessage
          ${SETT_PROTO_SCHEMA} ${SETT_GEN_DIR}/proto/rp_v7
  DEPENDS ${CMAKE_SOURCE_DIR}/tools/barec.lua ${SETT_PROTO_SCHEMA}
  COMMENT "Generating the runner-protocol v7 codec from ${SETT_PROTO_SCHEMA}")
list(APPEND SETT_GEN_SOURCES ${SETT_GEN_DIR}/proto/rp_v7.c)

# The Lua binding as a Lua module, build/lua/sett/proto.so, for busted and plain luajit. It links
# the settcore archive file rather than the target, so that settcore's usage requirements (among
# them libluajit) stay out: the module's lua_* symbols resolve against the loading interpreter.
# Only the archive members the binding needs (codec, runtime, alloc, buf) are pulled in.
add_library(sett_proto_lua MODULE ${CMAKE_SOURCE_DIR}/src/proto/proto_lua.c)
set_target_properties(sett_proto_lua PROPERTIES PREFIX "" OUTPUT_NAME proto
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/lua/sett)
target_include_directories(sett_proto_lua PRIVATE ${CMAKE_SOURCE_DIR}/src ${SETT_GEN_DIR}
  ${LUAJIT_INCLUDE_DIRS})
target_link_libraries(sett_proto_lua PRIVATE $<TARGET_FILE:settcore> m)
add_dependencies(sett_proto_lua settcore)
