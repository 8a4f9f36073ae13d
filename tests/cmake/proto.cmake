# Tests of the runner-protocol codec beyond the C unit test and the fuzz corpora: the `sett proto`
# command line, and the cross-check against the npm package the runners use.

# Runs `sett proto ARGS...` through sh, appending "exit=N" so a test can match the status and the
# output together.
function(sett_proto_cli_test name regex)
  add_test(NAME ${name} COMMAND sh -c "\"$0\" proto \"$@\"; echo \"exit=$?\"" $<TARGET_FILE:sett>
    ${ARGN})
  set_tests_properties(${name} PROPERTIES PASS_REGULAR_EXPRESSION "${regex}")
endfunction()

sett_proto_cli_test(proto_cli_decode
  "^{\"tag\":\"ToServerInit\",\"val\":{\"name\":\"r\",\"version\":1,\"totalSlots\":2,\"prepopulateActorNames\":{},\"metadata\":\"{}\"}}\nexit=0\n$"
  decode to-server "00 01 72 01 00 00 00 02 00 00 00 01 00 01 02 7b 7d")
sett_proto_cli_test(proto_cli_decode_versioned
  "^{\"tag\":\"ToRunnerPing\",\"val\":{\"gatewayId\":\"11223344\",\"requestId\":\"aabbccdd\",\"ts\":1}}\nexit=0\n$"
  decode to-runner 07000011223344aabbccdd0100000000000000)
sett_proto_cli_test(proto_cli_encode "^050100000000000000\nexit=0\n$"
  encode to-client "{\"tag\":\"ToClientPing\",\"val\":{\"ts\":1}}")
sett_proto_cli_test(proto_cli_encode_versioned "^070000aabbccdd0100000000000000\nexit=0\n$"
  encode to-gateway "{\"tag\":\"ToGatewayPong\",\"val\":{\"requestId\":\"aabbccdd\",\"ts\":\"1\"}}")
sett_proto_cli_test(proto_cli_malformed
  "sett proto: offset 1: unexpected end of input \\(in ToServerPong.ts\\)\nexit=1\n$"
  decode to-server 0401000000)
sett_proto_cli_test(proto_cli_bad_version
  "sett proto: offset 0: unsupported protocol version \\(expected 07 00, v7\\) \\(in version prefix\\)\nexit=1\n$"
  decode to-runner 060001)
sett_proto_cli_test(proto_cli_bad_json
  "sett proto: to_server.val.ts: expected integer or decimal string, got boolean\nexit=1\n$"
  encode to-server "{\"tag\":\"ToServerPong\",\"val\":{\"ts\":true}}")
sett_proto_cli_test(proto_cli_usage "usage: sett proto.*exit=2\n$" frobnicate to-server)
sett_proto_cli_test(proto_cli_unknown_type "unknown type 'to-nowhere'.*exit=2\n$" decode to-nowhere 00)

# Batch mode: one frame per line in, one JSON line out, and --keep-going for bad lines.
add_test(NAME proto_cli_batch COMMAND sh -c
  "printf '05 01 00 00 00 00 00 00 00\\n\\n0401\\n8000\\n050200000000000000\\n' | \"$0\" proto decode to-client -k; echo \"exit=$?\""
  $<TARGET_FILE:sett>)
set_tests_properties(proto_cli_batch PROPERTIES PASS_REGULAR_EXPRESSION
  "^{\"tag\":\"ToClientPing\",\"val\":{\"ts\":1}}\n{\"error\":\"unexpected end of input\",\"offset\":1,\"path\":\"MessageId.gatewayId\"}\n{\"error\":\"non-minimal or over-long LEB128 integer\",\"offset\":0,\"path\":\"ToClient\"}\n{\"tag\":\"ToClientPing\",\"val\":{\"ts\":2}}\nexit=1\n$")

# The cross-check against @rivetkit/engine-runner-protocol 2.2.1 (tests/interop; its node_modules
# come from `npm ci` there, which the script checks for).
# Under the sanitizers proto.so expects their runtimes, which plain luajit must preload.
set(SETT_PROTO_PRELOAD "")
if(SETT_SAN AND CMAKE_C_COMPILER_ID STREQUAL "GNU")
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so
    OUTPUT_VARIABLE asan_rt OUTPUT_STRIP_TRAILING_WHITESPACE)
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libubsan.so
    OUTPUT_VARIABLE ubsan_rt OUTPUT_STRIP_TRAILING_WHITESPACE)
  set(SETT_PROTO_PRELOAD "${asan_rt}:${ubsan_rt}")
elseif(SETT_SAN AND CMAKE_C_COMPILER_ID MATCHES "Clang")
  execute_process(COMMAND ${CMAKE_C_COMPILER} --print-runtime-dir
    OUTPUT_VARIABLE rt_dir OUTPUT_STRIP_TRAILING_WHITESPACE)
  set(SETT_PROTO_PRELOAD "${rt_dir}/libclang_rt.asan-${CMAKE_SYSTEM_PROCESSOR}.so")
endif()
find_program(NODE_EXE NAMES node nodejs)
if(NODE_EXE)
  add_test(NAME proto_crosscheck COMMAND ${NODE_EXE} ${CMAKE_SOURCE_DIR}/tests/interop/proto-crosscheck.mjs
    --sett $<TARGET_FILE:sett> --luajit ${LUAJIT_EXE} --cpath ${CMAKE_BINARY_DIR}/lua/?.so
    --preload "${SETT_PROTO_PRELOAD}")
else()
  add_test(NAME proto_crosscheck COMMAND sh -c "echo 'proto_crosscheck: node is not installed' >&2; exit 1")
endif()
