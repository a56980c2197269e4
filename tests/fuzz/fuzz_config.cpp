// Fuzzes the config readers: the same bytes go to LmConfig::parse and MimiConfig::parse.
// A config that parses must also build its model skeleton and declare its weights without
// trouble (LmLoader / MimiLoader construction allocates per layer and per codebook, never per
// weight element), and its derived sizes must be consistent. kyutai::Error is the expected
// outcome of bad input; anything else is a finding.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "codec/mimi.h"
#include "codec/mimi_config.h"
#include "core/error.h"
#include "lm/lm_config.h"
#include "lm/lm_model.h"

namespace {

using namespace kyutai;

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "fuzz_config: %s\n", what);
  std::abort();
}

void lm(const std::string& text) {
  LmConfig c;
  try {
    c = LmConfig::parse(text);
  } catch (const Error&) {
    return;
  }
  if (int(c.delays.size()) != c.num_codebooks()) finding("delays do not cover every stream");
  if (c.dep_q > c.n_q) finding("dep_q > n_q accepted");
  (void)c.max_delay();
  (void)c.effective_asr_delay_in_tokens();
  for (int k = 0; k < c.dep_q; ++k)
    if (c.depformer_in_index(k) < 0 || c.depformer_in_index(k) >= c.depformer_weight_sets())
      finding("depformer_in_index outside the weight sets");
  // Large (but accepted) configs would take long to declare; the fuzzer is after logic errors.
  if (c.parameter_count() > 5e7) return;
  try {
    LoadOptions options;
    options.use_xnnpack = false;
    LmLoader loader(c, options);
    (void)loader.expected();
  } catch (const Error&) {
  }
}

void mimi(const std::string& text) {
  MimiConfig c;
  try {
    c = MimiConfig::parse(text);
  } catch (const Error&) {
    return;
  }
  if (c.frame_size() <= 0 || c.frame_size() % c.seanet.hop_length() != 0) finding("frame size not whole encoder steps");
  if (c.encoder_steps_per_frame() < 1) finding("no encoder step per frame");
  try {
    LoadOptions options;
    options.use_xnnpack = false;
    MimiLoader loader(c, options);
  } catch (const Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  lm(text);
  mimi(text);
  return 0;
}
