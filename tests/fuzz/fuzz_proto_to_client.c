/* Fuzzes the ToClient decoder: whatever it accepts must encode back to the same bytes, directly
 * and through the JSON form. */
#include "fuzz_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_proto_check("to_client", data, size);
}
