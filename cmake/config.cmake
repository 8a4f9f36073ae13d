# The C side of the configuration: tools/config_gen.lua generates it from the schema in
# lua/sett/config.lua at build time into ${SETT_GEN_DIR}/lua (never into the source tree).
file(MAKE_DIRECTORY ${SETT_GEN_DIR}/lua)
add_custom_command(
  OUTPUT ${SETT_GEN_DIR}/lua/config_keys.h
  COMMAND ${LUAJIT_EXE} ${CMAKE_SOURCE_DIR}/tools/config_gen.lua ${CMAKE_SOURCE_DIR}/lua
          ${SETT_GEN_DIR}/lua/config_keys.h
  DEPENDS ${CMAKE_SOURCE_DIR}/tools/config_gen.lua ${CMAKE_SOURCE_DIR}/lua/sett/config.lua
  COMMENT "Generating the configuration's C side from lua/sett/config.lua")
list(APPEND SETT_GEN_SOURCES ${SETT_GEN_DIR}/lua/config_keys.h)
