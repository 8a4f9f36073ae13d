# Embeds lua/sett/*.lua into the binary as package.preload entries, so the host needs no Lua
# files at run time; busted loads the same files from lua/ directly.
file(GLOB_RECURSE SETT_LUA_FILES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/lua/*.lua)
add_custom_command(
  OUTPUT ${SETT_GEN_DIR}/lua_embed.c
  COMMAND ${LUAJIT_EXE} ${CMAKE_SOURCE_DIR}/tools/embed.lua ${CMAKE_SOURCE_DIR}/lua
          ${SETT_GEN_DIR}/lua_embed.c ${SETT_LUA_FILES}
  DEPENDS ${CMAKE_SOURCE_DIR}/tools/embed.lua ${SETT_LUA_FILES}
  COMMENT "Embedding Lua sources")
list(APPEND SETT_GEN_SOURCES ${SETT_GEN_DIR}/lua_embed.c)
