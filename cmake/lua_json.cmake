# sett.json as a Lua module, build/lua/sett/json.so, for busted and plain luajit (the host links
# the same code in and preloads it). As with sett.proto it links the settcore archive file, so
# that the module's lua_* symbols resolve against the loading interpreter and only the members it
# needs (json, utf8, base64, buf, alloc, the path formatter) are pulled in.
add_library(sett_json_lua MODULE ${CMAKE_SOURCE_DIR}/src/lua/json.c)
set_target_properties(sett_json_lua PROPERTIES PREFIX "" OUTPUT_NAME json
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/lua/sett)
target_include_directories(sett_json_lua PRIVATE ${CMAKE_SOURCE_DIR}/src ${LUAJIT_INCLUDE_DIRS})
target_link_libraries(sett_json_lua PRIVATE $<TARGET_FILE:settcore> m)
add_dependencies(sett_json_lua settcore)
