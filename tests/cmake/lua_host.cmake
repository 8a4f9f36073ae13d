# The Lua host's init and close under valgrind: luv's handle check reads any userdata as a
# handle, so a close that passes it the wrong ones reads invalid memory even when it happens not
# to crash; valgrind reports it either way. The sanitizer build runs the plain test only.
if(NOT SETT_SAN)
  find_program(VALGRIND_EXE valgrind)
  if(VALGRIND_EXE)
    add_test(NAME test_lua_host_valgrind
      COMMAND ${VALGRIND_EXE} --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
        --quiet $<TARGET_FILE:test_lua_host>
      WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  endif()
endif()
