// Layering probe (tests/boundary/CMakeLists.txt): compiled against one layer's include view
// with KYUTAI_PROBE_HEADER naming the header to reach. It compiles only if that view shows it.
#include KYUTAI_PROBE_HEADER

int kyutai_boundary_probe() { return 0; }
