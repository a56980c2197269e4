#include <gtest/gtest.h>
// Conformance checkpoints loaded once per test binary.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "lm/lm_model.h"

namespace kyutai::test {

struct LmFixture {
  LmConfig config;
  std::unique_ptr<LmModel> model;
};

// dir: "lm", "stt" or "lm-variants/<name>". Loaded with the default options.
LmFixture& lm_fixture(const std::string& dir);
// The four generation checkpoints: lm and every lm-variant.
std::vector<std::string> lm_checkpoints();
std::string checkpoint_name(const ::testing::TestParamInfo<std::string>& info);

}  // namespace kyutai::test
