# The C in src/ and tests/unit/ is formatted as .clang-format says (tools/check_format.sh --fix).
add_test(NAME src_format COMMAND ${CMAKE_SOURCE_DIR}/tools/check_format.sh)
