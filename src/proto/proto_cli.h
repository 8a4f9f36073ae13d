/* `sett proto`: encodes and decodes runner-protocol frames from the command line, one frame per
 * line in batch mode, in the JSON form of proto/proto_json.h. */
#ifndef SETT_PROTO_CLI_H
#define SETT_PROTO_CLI_H

/* argv[0] is "proto". Returns the process exit code: 0 done, 1 a malformed frame or document,
 * 2 a usage error. */
int proto_cli_main(int argc, char **argv);

#endif
