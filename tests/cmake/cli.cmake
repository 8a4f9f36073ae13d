# The binary from the outside, and the same under valgrind (no leak, uv_loop_close() == 0).
add_test(NAME sett_cli COMMAND ${CMAKE_SOURCE_DIR}/tests/cli/sett_cli.sh $<TARGET_FILE:sett>
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
if(NOT SETT_SAN)
  find_program(VALGRIND_EXE valgrind)
  if(VALGRIND_EXE)
    add_test(NAME sett_cli_valgrind COMMAND ${CMAKE_SOURCE_DIR}/tests/cli/sett_cli.sh $<TARGET_FILE:sett>
      WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
    set_tests_properties(sett_cli_valgrind PROPERTIES ENVIRONMENT "VALGRIND=1")
  endif()
endif()
