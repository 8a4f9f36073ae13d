# The includes of src/ keep to the map in docs/hacking.md (which folder may include which).
add_test(NAME src_includes COMMAND ${LUAJIT_EXE} ${CMAKE_SOURCE_DIR}/tools/check_includes.lua
  ${CMAKE_SOURCE_DIR})
